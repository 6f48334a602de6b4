// Issue 10.14: the admin console answered 500 to a signed-in non-admin and to an admin without MFA (the
// refusal page was assigned to c.res as a Promise). Both get the 403 page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { corePolicy } from '../../fixtures/policies.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO } from '../../support/test-idp.ts'

describe('admin console refusals', () => {
  let broker: TestBroker
  beforeAll(async () => {
    broker = await startTestBroker({ policy: corePolicy() })
  })
  afterAll(async () => {
    await broker?.close()
  })

  it('/admin answers the 403 page to a non-admin and to an admin without MFA', async () => {
    const user = (await broker.login(MFA_SCENARIO)).jar
    const rootWithoutMfa = (
      await broker.login({ sub: 'root', email: 'root@example.com', groups: [], amr: ['pwd'] })
    ).jar
    for (const [jar, title] of [
      [user, 'Admins only'],
      [rootWithoutMfa, 'Admins sign in with MFA'],
    ] as const) {
      for (const path of ['/admin', '/admin/leases', '/admin/audit']) {
        const response = await broker.api(jar, path)
        expect(response.status, path).toBe(403)
        expect(response.headers.get('content-type')).toMatch(/^text\/html/)
        expect(await response.text()).toContain(title)
      }
    }
    const root = (
      await broker.login({ sub: 'root', email: 'root@example.com', groups: [], amr: ['pwd', 'hwk'] })
    ).jar
    expect((await broker.api(root, '/admin')).status).toBe(200)
  })
})
