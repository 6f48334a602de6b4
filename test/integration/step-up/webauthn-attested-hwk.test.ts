// Issue 10.2b, the other side: a key counts as `hwk` only with a `packed` attestation whose chain ends at a
// configured root (KEYGATE_WEBAUTHN_ATTESTATION_ROOTS) from an allowed model (KEYGATE_WEBAUTHN_HWK_AAGUIDS).
// A software authenticator that signs its attestation with a certificate chain of its own making, naming
// the same allowed AAGUID, stays `swk`. Certificates are made with openssl in a temporary directory.
import { execFileSync } from 'node:child_process'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stepUpPolicy } from '../../fixtures/policies.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import { type PackedAttestation, SoftAuthenticator } from '../../support/soft-authenticator.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import type { TestIdpScenario } from '../../support/test-idp.ts'
import { identityIdOf, newPublicKey } from './step-up-fixtures.ts'

const AAGUID = 'cb69481e-8ff7-4039-93ec-0a2729a154a8'
const OFFICE = '192.168.10.0/24'

/** A root and an attestation leaf under it, as an authenticator vendor's chain looks. */
function makeChain(dir: string, name: string): { rootPem: string; attestation: PackedAttestation } {
  const file = (f: string) => join(dir, `${name}-${f}`)
  const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })
  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('ca.key'))
  run(
    'req',
    '-x509',
    '-new',
    '-key',
    file('ca.key'),
    '-subj',
    `/C=US/O=${name}/CN=${name} Root`,
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:true',
    '-addext',
    'keyUsage=critical,keyCertSign',
    '-out',
    file('ca.pem'),
  )
  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('leaf.key'))
  run(
    'req',
    '-new',
    '-key',
    file('leaf.key'),
    '-subj',
    `/C=US/O=${name}/OU=Authenticator Attestation/CN=${name} Key`,
    '-out',
    file('leaf.csr'),
  )
  const hex = AAGUID.replace(/-/g, '').replace(/(..)(?!$)/g, '$1:')
  writeFileSync(
    file('leaf.ext'),
    `basicConstraints=critical,CA:false\n1.3.6.1.4.1.45724.1.1.4=DER:04:10:${hex}\n`,
  )
  run(
    'x509',
    '-req',
    '-in',
    file('leaf.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    file('leaf.ext'),
    '-out',
    file('leaf.pem'),
  )
  return {
    rootPem: readFileSync(file('ca.pem'), 'utf8'),
    attestation: {
      x5c: [new Uint8Array(new X509Certificate(readFileSync(file('leaf.pem'))).raw)],
      key: createPrivateKey(readFileSync(file('leaf.key'))),
      aaguid: Uint8Array.from(Buffer.from(AAGUID.replace(/-/g, ''), 'hex')),
    },
  }
}

describe('an attested hardware key', () => {
  let broker: TestBroker
  let dir: string
  let vendor: ReturnType<typeof makeChain>
  let forged: ReturnType<typeof makeChain>

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keygate-attestation-'))
    vendor = makeChain(dir, 'Vendor')
    forged = makeChain(dir, 'Forger')
    broker = await startTestBroker({
      policy: stepUpPolicy(),
      env: { KEYGATE_WEBAUTHN_HWK_AAGUIDS: AAGUID, KEYGATE_WEBAUTHN_ATTESTATION_ROOTS: vendor.rootPem },
    })
  })
  afterAll(async () => {
    await broker?.close()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  async function registerAndIssue(who: TestIdpScenario, attestation: PackedAttestation) {
    const { jar } = await broker.login(who)
    const key = new SoftAuthenticator(broker.origin, new URL(broker.origin).hostname)
    const options = await broker.api(jar, '/step-up/webauthn/register/options', { method: 'POST', json: {} })
    const body = (await options.json()) as { challenge: string; attestation: string }
    expect(body.attestation).toBe('direct')
    const response = key.register({ challenge: body.challenge }, attestation)
    const verified = await broker.api(jar as CookieJar, '/step-up/webauthn/register/verify', {
      method: 'POST',
      json: { response },
    })
    expect(verified.status).toBe(200)
    const issued = await broker.api(jar, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey(), gateways: ['gw-a'] },
    })
    expect(issued.status).toBe(201)
    const [lease] = await broker.db.store.listLeases(
      { identityId: await identityIdOf(broker, who.email!) },
      Date.now(),
    )
    return lease!
  }

  it('counts as hwk with a chain to a configured root; a self-made chain naming the same model does not', async () => {
    const attested = await registerAndIssue(
      { sub: 'erin', email: 'erin@example.com', groups: ['engineering'], amr: ['pwd', 'otp'] },
      vendor.attestation,
    )
    expect(attested.auth.stepUp).toBe('webauthn:hwk@idp-mfa')
    expect(attested.grants[0]!.routes).toContain(OFFICE)

    const selfMade = await registerAndIssue(
      { sub: 'frank', email: 'frank@example.com', groups: ['engineering'], amr: ['pwd', 'otp'] },
      forged.attestation,
    )
    expect(selfMade.auth.stepUp).toBe('webauthn@idp-mfa')
    expect(selfMade.grants[0]!.routes).not.toContain(OFFICE)
  })
})
