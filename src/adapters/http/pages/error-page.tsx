/**
 * A page for errors a person meets in the browser (a failed form post, a lease that is gone), with the
 * same code and reasons the API would give, and a way back.
 */
import { Layout, Notice, ReasonList, type Viewer } from './layout.tsx'

export function ErrorPage(props: {
  viewer: Viewer | null
  title: string
  message: string
  code: string
  reasons?: Array<{ code: string; message: string }>
  back?: { href: string; label: string }
}) {
  return (
    <Layout title={props.title} viewer={props.viewer}>
      <h1>{props.title}</h1>
      <Notice kind="bad">
        <p>{props.message}</p>
        <ReasonList reasons={props.reasons ?? []} />
      </Notice>
      <p class="muted small">Error code: {props.code}</p>
      <p>
        <a href={props.back?.href ?? '/'}>{props.back?.label ?? 'Back to my access'}</a>
      </p>
    </Layout>
  )
}
