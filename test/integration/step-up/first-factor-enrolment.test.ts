// Issue 10.2d: the first factor could be enrolled by anyone holding the password. By default
// (KEYGATE_FIRST_FACTOR=idp-mfa-or-code) it needs an IdP-MFA session or a one-time code an admin issued
// for that identity.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stepUpPolicy } from '../../fixtures/policies.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO, PASSWORD_ONLY_SCENARIO, type TestIdpScenario } from '../../support/test-idp.ts'
import { currentCode, errorOf, identityIdOf, postForm, readEnrolmentPage } from './step-up-fixtures.ts'

const ROOT_MFA: TestIdpScenario = { sub: 'root', email: 'root@example.com', groups: [], amr: ['pwd', 'hwk'] }
const CAROL: TestIdpScenario = {
  sub: 'carol',
  email: 'carol@example.com',
  groups: ['engineering'],
  amr: ['pwd'],
}

describe('first factor enrolment', () => {
  let broker: TestBroker
  beforeAll(async () => {
    broker = await startTestBroker({ policy: stepUpPolicy() })
  })
  afterAll(async () => {
    await broker?.close()
  })

  it('first factor enrolment needs an IdP-MFA session or an admin-issued code', async () => {
    // With the password alone: refused, for TOTP and for WebAuthn, and nothing is stored.
    const bob = (await broker.login(PASSWORD_ONLY_SCENARIO)).jar
    const bobId = await identityIdOf(broker, PASSWORD_ONLY_SCENARIO.email!)
    const refused = await postForm(broker, bob, '/step-up/totp/enrol', { returnTo: '/' })
    expect(refused.status).toBe(403)
    expect(await refused.text()).toContain('enrolment code from your administrator')
    const webauthn = await broker.api(bob, '/step-up/webauthn/register/options', { method: 'POST', json: {} })
    expect(await errorOf(webauthn)).toEqual({ status: 403, code: 'ENROLMENT_CODE_REQUIRED' })
    const refusals = await broker.db.store.listAudit({
      type: 'step_up.enrol_refused',
      identityId: bobId,
      limit: 10,
    })
    expect(refusals.map((e) => e.data.code)).toEqual(['ENROLMENT_CODE_REQUIRED', 'ENROLMENT_CODE_REQUIRED'])

    // Path 1: an IdP-MFA session enrols without a code.
    const alice = (await broker.login(MFA_SCENARIO)).jar
    const alicePage = await postForm(broker, alice, '/step-up/totp/enrol', { returnTo: '/' })
    expect(alicePage.status).toBe(200)
    const aliceEnrolment = readEnrolmentPage(await alicePage.text())
    const aliceConfirmed = await postForm(broker, alice, '/step-up/totp/confirm', {
      ...aliceEnrolment,
      code: currentCode(aliceEnrolment.secret),
    })
    expect(aliceConfirmed.status).toBe(303)

    // Path 2: an admin (with IdP MFA) issues a one-time code for Bob's identity.
    const root = (await broker.login(ROOT_MFA)).jar
    const issued = await broker.api(root, `/api/v1/admin/identities/${bobId}/enrolment-codes`, {
      method: 'POST',
      json: {},
    })
    expect(issued.status).toBe(201)
    const { code } = (await issued.json()) as { code: string }
    // Only admins issue codes; a code is bound to its identity; a wrong code is refused.
    const notAdmin = await broker.api(bob, `/api/v1/admin/identities/${bobId}/enrolment-codes`, {
      method: 'POST',
      json: {},
    })
    expect(notAdmin.status).toBe(403)
    const carol = (await broker.login(CAROL)).jar
    expect((await postForm(broker, carol, '/step-up/totp/enrol', { enrolmentCode: code })).status).toBe(403)
    expect(
      (await postForm(broker, bob, '/step-up/totp/enrol', { enrolmentCode: 'not-the-code' })).status,
    ).toBe(403)

    const bobPage = await postForm(broker, bob, '/step-up/totp/enrol', { returnTo: '/', enrolmentCode: code })
    expect(bobPage.status).toBe(200)
    const html = await bobPage.text()
    const bobEnrolment = readEnrolmentPage(html)
    expect(html).toContain(`name="enrolmentCode" value="${code}"`)
    const bobConfirmed = await postForm(broker, bob, '/step-up/totp/confirm', {
      ...bobEnrolment,
      code: currentCode(bobEnrolment.secret),
      enrolmentCode: code,
    })
    expect(bobConfirmed.status).toBe(303)

    // The code was consumed by the enrolment it allowed.
    const used = await broker.db.store.listAudit({
      type: 'step_up.enrolment_code_used',
      identityId: bobId,
      limit: 10,
    })
    expect(used.length).toBe(1)
    const enrolled = await broker.db.store.listAudit({ type: 'step_up.enrolled', limit: 10 })
    expect(enrolled.map((e) => e.actor).sort()).toEqual(['alice@example.com', 'bob@example.com'])
  })

  it('a code serves one enrolment only, even when two were started with it', async () => {
    const dave: TestIdpScenario = {
      sub: 'dave',
      email: 'dave@example.com',
      groups: ['engineering'],
      amr: ['pwd'],
    }
    const first = (await broker.login(dave)).jar
    const daveId = await identityIdOf(broker, dave.email!)
    const root = (await broker.login(ROOT_MFA)).jar
    const issued = await broker.api(root, `/api/v1/admin/identities/${daveId}/enrolment-codes`, {
      method: 'POST',
      json: {},
    })
    const { code } = (await issued.json()) as { code: string }
    const second = (await broker.login(dave)).jar
    const pages = await Promise.all(
      [first, second].map((jar) => postForm(broker, jar, '/step-up/totp/enrol', { enrolmentCode: code })),
    )
    const [a, b] = await Promise.all(pages.map(async (p) => readEnrolmentPage(await p.text())))
    const confirmA = await postForm(broker, first, '/step-up/totp/confirm', {
      ...a!,
      code: currentCode(a!.secret),
      enrolmentCode: code,
    })
    expect(confirmA.status).toBe(303)
    const confirmB = await postForm(broker, second, '/step-up/totp/confirm', {
      ...b!,
      code: currentCode(b!.secret),
      enrolmentCode: code,
    })
    // Either the second session continued the same unfinished enrolment (a reload or second start shows
    // the same secret), which is finished now (404), or it started its own and now meets an identity that
    // has a factor, so it must step up with that first (STEP_UP_REQUIRED: 401, the page's status as the
    // API's). Either way, one enrolment.
    expect([401, 404]).toContain(confirmB.status)
    const enrolled = await broker.db.store.listAudit({ type: 'step_up.enrolled', limit: 50 })
    expect(enrolled.filter((e) => e.actor === dave.email)).toHaveLength(1)
  })
})
