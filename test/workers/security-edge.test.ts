// Issue 10's edge findings on the Worker (workerd): anonymous sign-in starts and bad callbacks write no
// rows, the session cookie names a session only (100 Entra-style groups), a tampered cookie is refused,
// a cross-site JSON POST is refused, bodies are limited, and anonymous /readyz says booleans only.
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MFA_SCENARIO } from '../support/test-idp.ts'
import { startTestWorker, type TestWorker } from './support/test-worker.ts'

function publicKey(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')
}

async function codeOf(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code
}

let worker: TestWorker

beforeAll(async () => {
  worker = await startTestWorker()
})
afterAll(async () => {
  await worker?.close()
})

describe('security at the edge on the Worker', () => {
  it('anonymous sign-in starts and bad callbacks write no rows', async () => {
    const sql = postgres(worker.db.databaseUrl as string, { max: 1, onnotice: () => {} })
    try {
      const counts = async () =>
        sql`SELECT (SELECT count(*) FROM login_states) AS states, (SELECT count(*) FROM audit_events) AS audit,
                   (SELECT count(*) FROM sessions) AS sessions`
      const before = await counts()
      for (let i = 0; i < 100; i++) expect((await worker.api(null, '/auth/test/login')).status).toBe(302)
      for (let i = 0; i < 100; i++) {
        const bad = await worker.api(null, `/auth/test/callback?code=c${i}&state=s${i}`)
        expect(await codeOf(bad)).toBe('LOGIN_STATE_INVALID')
      }
      expect(await counts()).toEqual(before)
    } finally {
      await sql.end()
    }
  })

  it('the session cookie names a session only; a tampered one is refused', async () => {
    const groups = ['engineering', ...Array.from({ length: 100 }, () => crypto.randomUUID())]
    const { jar, response } = await worker.login({ ...MFA_SCENARIO, groups })
    expect(response.status).toBe(303)
    const setCookie = response.headers.getSetCookie().find((c) => c.startsWith('kg_session=')) as string
    expect(setCookie.length).toBeLessThan(400)
    const me = await worker.api(jar, '/api/v1/me')
    expect(((await me.json()) as { identity: { groups: string[] } }).identity.groups).toHaveLength(101)

    const token = /kg_session=([^;]+)/.exec(setCookie)?.[1] as string
    const parts = token.split('.')
    parts[3] = ((parts[3] as string)[0] === 'A' ? 'B' : 'A') + (parts[3] as string).slice(1)
    const tampered = await fetch(`${worker.origin}/api/v1/me`, {
      headers: { cookie: `kg_session=${parts.join('.')}` },
    })
    expect(tampered.status).toBe(401)

    const crossSite = await worker.api(jar, '/api/v1/peers', {
      method: 'POST',
      headers: { origin: 'https://evil.example' },
      json: { publicKey: publicKey() },
    })
    expect(crossSite.status).toBe(403)
    expect(await codeOf(crossSite)).toBe('CSRF_FAILED')

    const large = await worker.api(jar, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: publicKey(), name: 'x'.repeat(100_000) },
    })
    expect(large.status).toBe(413)
  })

  it('anonymous /readyz answers booleans only', async () => {
    const ready = await worker.api(null, '/readyz')
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({
      ready: true,
      checks: { database: { ok: true }, policy: { ok: true } },
    })
  })
})
