// `keygate doctor` against a running broker's deployment: a real oidc-provider as the IdP, the test
// database (PostgreSQL read directly; the embedded database asked of the server that holds it), the
// policy file, and a gateway enrolled and reporting over HTTP. Each fault is a real one: an issuer that
// does not match, a policy whose test fails, a database never migrated, a gateway gone quiet.
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROTOCOL_VERSION } from '../../../src/core/sync/protocol.ts'
import { diagnose, type Finding, runDoctor } from '../../../src/entrypoints/doctor.ts'
import { corePolicy } from '../../fixtures/policies.ts'
import { enrollGateway } from '../../support/gateway-enrollment.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { ADMIN_URL, testDatabaseKind, urlForDatabase } from '../../support/test-db.ts'

const byCheck = (findings: Finding[], check: string) => findings.filter((f) => f.check === check)

describe('keygate doctor', () => {
  let broker: TestBroker
  let env: Record<string, string>

  beforeAll(async () => {
    broker = await startTestBroker({ policy: corePolicy(), enrolGateways: false })
    env = {
      KEYGATE_URL: broker.origin,
      KEYGATE_DATA_DIR: broker.dataDir,
      KEYGATE_POLICY: broker.policyPath,
      KEYGATE_SECRET: broker.secret,
      KEYGATE_IDP_TEST_ISSUER: broker.idp.issuer,
      KEYGATE_IDP_TEST_CLIENT_ID: broker.idp.clientId,
      KEYGATE_IDP_TEST_CLIENT_SECRET: broker.idp.clientSecret,
      KEYGATE_IDP_TEST_PROFILE: 'generic',
      ...(broker.db.databaseUrl === undefined ? {} : { DATABASE_URL: broker.db.databaseUrl }),
    }
    // A broker on a fresh PGlite boots PostgreSQL in WebAssembly: on a loaded 2-core machine, over a minute.
  }, 180_000)
  afterAll(async () => {
    await broker?.close()
  })

  it('passes a healthy deployment, and tells an enrolled gateway that never reported or went quiet', async () => {
    let findings = await diagnose(env)
    expect(findings.filter((f) => f.status === 'fail')).toEqual([])
    expect(byCheck(findings, 'config')[0]).toMatchObject({ status: 'ok' })
    expect(byCheck(findings, 'idp test')[0]).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/discovery and JWKS \(\d+ keys\)/),
    })
    expect(byCheck(findings, 'policy')[0]).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('tests passed'),
    })
    expect(byCheck(findings, 'database')[0]).toMatchObject({
      status: 'ok',
      detail:
        testDatabaseKind() === 'postgres'
          ? expect.stringContaining('migrations applied')
          : expect.stringContaining('held by the server'),
    })
    // Declared but never enrolled: a warning naming the command to run.
    expect(byCheck(findings, 'gateway gw-a')[0]).toMatchObject({
      status: 'warn',
      fix: expect.stringContaining('keygate gateway add gw-a'),
    })
    const out: string[] = []
    expect(await runDoctor(env, { stdout: (text) => out.push(text) })).toBe(0)
    expect(out.join('')).toContain('no problems found')

    // Enrolled (as `keygate gateway add` + the agent's first start do) but silent: a failure.
    const { credential } = await enrollGateway(broker, 'gw-a')
    findings = await diagnose(env)
    expect(byCheck(findings, 'gateway gw-a')[0]).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('never reported'),
      fix: expect.stringContaining('journalctl -u keygate-gateway@'),
    })
    expect(await runDoctor(env, { stdout: () => {} })).toBe(1)

    const report = await broker.api(null, '/api/v1/gateways/status', {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}` },
      json: {
        protocolVersion: PROTOCOL_VERSION,
        appliedVersion: 0,
        peerCount: 0,
        latestHandshakes: {},
        enforcement: 'off',
      },
    })
    expect(report.status).toBe(204)
    findings = await diagnose(env)
    expect(byCheck(findings, 'gateway gw-a')[0]).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('last contact'),
    })
    // Ten minutes later without a report, it has gone quiet.
    findings = await diagnose(env, { now: Date.now() + 10 * 60_000 })
    expect(byCheck(findings, 'gateway gw-a')[0]).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/last contact 10m ago/),
    })
  })

  it('fails an issuer that does not match its discovery document, naming the setting to fix', async () => {
    const findings = await diagnose({ ...env, KEYGATE_IDP_TEST_ISSUER: `${broker.idp.issuer}/elsewhere` })
    expect(byCheck(findings, 'idp test')[0]).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('discovery of'),
      fix: expect.stringContaining('KEYGATE_IDP_TEST_ISSUER'),
    })
  })

  it('fails a policy whose own test fails, with the location of the failure', async () => {
    const path = join(broker.dataDir, 'broken-policy.hujson')
    await writeFile(path, corePolicy().replace('"gw-a:prod", "gw-a:office", "gw-b:prod"', '"gw-a:prod"'))
    const findings = await diagnose({ ...env, KEYGATE_POLICY: path })
    expect(byCheck(findings, 'policy')[0]).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/broken-policy\.hujson:\d+:\d+/),
      fix: expect.stringContaining('keygate policy check'),
    })
  })

  it('fails a configuration it cannot parse', async () => {
    const findings = await diagnose({ ...env, KEYGATE_URL: 'not a url' })
    expect(findings).toEqual([expect.objectContaining({ check: 'config', status: 'fail' })])
  })

  it.runIf(testDatabaseKind() === 'postgres')(
    'fails a PostgreSQL database that was never migrated, and one it cannot reach',
    async () => {
      const name = `keygate_doctor_${randomBytes(4).toString('hex')}`
      const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
      await admin.unsafe(`CREATE DATABASE ${name}`)
      try {
        let findings = await diagnose({ ...env, DATABASE_URL: urlForDatabase(name) })
        expect(byCheck(findings, 'database')[0]).toMatchObject({
          status: 'fail',
          detail: expect.stringMatching(/\d+ of \d+ migrations are not applied/),
          fix: expect.stringContaining('keygate migrate'),
        })
        findings = await diagnose({ ...env, DATABASE_URL: urlForDatabase(`${name}_missing`) })
        expect(byCheck(findings, 'database')[0]).toMatchObject({
          status: 'fail',
          fix: expect.stringContaining('DATABASE_URL'),
        })
      } finally {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        await admin.end()
      }
    },
  )
})
