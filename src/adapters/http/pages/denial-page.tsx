/**
 * Why access is refused, said to the user first (a plain sentence and one next step: confirm with a
 * second factor, sign in again, or ask the admin), with the policy's own reasons folded away for the
 * admin who will be asked. The code shown is the one the API answers for the same refusal.
 */

import { Layout, Notice, ReasonList, type Viewer } from './layout.tsx'
import type { DenialAdvice, NextStep } from './page-context.ts'

export interface DenialPageProps {
  viewer: Viewer
  advice: DenialAdvice
  identity: { idp: string; email: string | null; subject: string }
}

export function DenialPage(props: DenialPageProps) {
  return (
    <Layout title="Access denied" viewer={props.viewer}>
      <h1>{props.advice.next.kind === 'ask-admin' ? 'You do not have VPN access' : 'One more step'}</h1>
      <DenialNotice advice={props.advice} />
      <DenialDetails advice={props.advice} identity={props.identity} />
    </Layout>
  )
}

/** The lead and the next step: also what "My access" shows when the policy refuses. */
export function DenialNotice(props: { advice: DenialAdvice }) {
  const { next } = props.advice
  return (
    <Notice kind={next.kind === 'ask-admin' ? 'bad' : 'warn'} id="denial">
      <p id="denial-lead">{props.advice.lead}</p>
      <NextStepAction next={next} />
    </Notice>
  )
}

function NextStepAction(props: { next: NextStep }) {
  const { next } = props
  if (next.kind === 'ask-admin') {
    return (
      <p>
        <strong>Next step:</strong> ask your admin. The details below tell them what the policy says.
      </p>
    )
  }
  return (
    <p>
      <a class="button" href={next.href} id="denial-next">
        {next.label}
      </a>
    </p>
  )
}

export function DenialDetails(props: {
  advice: DenialAdvice
  identity: { idp: string; email: string | null; subject: string }
}) {
  return (
    <details class="panel" id="denial-details">
      <summary>Details for your admin</summary>
      <p>
        Account: {props.identity.email ?? props.identity.subject} via <strong>{props.identity.idp}</strong>{' '}
        <span class="muted small mono">(subject {props.identity.subject})</span>
      </p>
      <p>
        Code: <code id="denial-code">{props.advice.code}</code>
      </p>
      <ReasonList reasons={props.advice.reasons} />
    </details>
  )
}
