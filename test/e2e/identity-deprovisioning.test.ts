// Deprovisioning reaches a real gateway (issue 13), with nothing faked: the broker (Node server, real
// oidc-provider with its own back-channel logout, the test database) on loopback; one gateway running
// wireguard-go and the real agent with its nftables filter in its namespace; a service behind it; and a
// client interface loaded with the issued config. A SCIM deactivation (as Okta sends it) and a sign-out
// at the IdP (oidc-provider's back-channel logout) each take the user's peer off the gateway: asserted on
// `wg show` inside the gateway's namespace and on the client's traffic failing afterwards. The time each
// took is recorded as a figure; the bound polled is generous (performance belongs to `npm run bench`).
//
//   cl:  198.18.5.1/30 --- gw: 198.18.5.2/30 (wireguard-go + agent + nftables) --- svc 198.18.65.10
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../src/core/peers/keys.ts'
import type { CookieJar } from '../support/login-driver.ts'
import { createNetnsLab, type NetnsLab, requireNetnsLab, type WireGuardGoProcess } from '../support/netns.ts'
import { enrollLabGateway, type LabGateway, loadLabClient, until } from '../support/network-lab.ts'
import {
  createScimToken,
  PATCH_SCHEMA,
  type ScimCall,
  scimClient,
  USER_SCHEMA,
} from '../support/scim-client.ts'
import { startTestBroker, type TestBroker } from '../support/test-broker.ts'
import { MFA_SCENARIO, type TestIdpScenario } from '../support/test-idp.ts'

const canRun = await requireNetnsLab({ nft: true })

const OVERLAY = { cidr: '198.18.144.0/20', prefix: 20 }
const ENDPOINT = { client: '198.18.5.1/30', gateway: '198.18.5.2/30', endpoint: '198.18.5.2:51820' }
const SERVICE = { subnet: '198.18.65.0/24', gateway: '198.18.65.1', host: '198.18.65.10' }
/** Generous: the goal is 2 s; this bound only keeps a broken build from hanging the run. */
const DROP_BOUND_MS = 15_000

const POLICY = `{
  "network": { "ipv4": "${OVERLAY.cidr}" },
  "gateways": { "gw-a": { "endpoint": "${ENDPOINT.endpoint}", "routes": { "svc": ["${SERVICE.subnet}"] } } },
  "groups": { "group:eng": ["idp:*:engineering"] },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "1h" } },
  "grants": [{ "src": ["group:eng"], "dst": ["gw-a:*"], "assurance": "mfa", "ttl": "8h" }],
}
`
const person = (name: string): TestIdpScenario => ({
  ...MFA_SCENARIO,
  sub: `deprov-${name}`,
  email: `${name}@example.com`,
  name,
  groups: ['engineering'],
})

describe.skipIf(!canRun)('deprovisioning takes the peer off a real WireGuard gateway', () => {
  let lab: NetnsLab
  const ns = { cl: '', gw: '', svc: '' }
  let broker: TestBroker
  let gateway: LabGateway
  let client: WireGuardGoProcess
  let scim: ScimCall
  let workDir = ''
  const figures: Record<string, number> = {}

  beforeAll(async () => {
    lab = createNetnsLab()
    workDir = await mkdtemp(join(tmpdir(), `keygate-deprov-${lab.id}-`))
    for (const label of Object.keys(ns) as Array<keyof typeof ns>) ns[label] = await lab.namespace(label)
    await lab.vethPair(
      { namespace: ns.cl, address: ENDPOINT.client },
      { namespace: ns.gw, address: ENDPOINT.gateway },
    )
    await lab.vethPair(
      { namespace: ns.gw, address: `${SERVICE.gateway}/24` },
      { namespace: ns.svc, address: `${SERVICE.host}/24` },
    )
    for (const [namespace, command] of [
      [ns.gw, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']],
      [ns.svc, ['ip', 'route', 'add', 'default', 'via', SERVICE.gateway]],
    ] as const) {
      const result = await lab.exec(namespace, [...command])
      if (result.code !== 0) throw new Error(`${command.join(' ')}: ${result.stderr}`)
    }
    broker = await startTestBroker({ policy: POLICY, idpOptions: { backchannelLogout: true } })
    scim = scimClient(broker.origin, await createScimToken(broker.origin, broker.dataDir, 'test'))
    gateway = await enrollLabGateway(lab, broker, {
      namespace: ns.gw,
      name: 'gw-a',
      overlayPrefix: OVERLAY.prefix,
    })
    client = await lab.startWireGuardGo(ns.cl)
  }, 300_000)

  afterAll(async () => {
    await gateway?.stop().catch(() => {})
    await broker?.close().catch(() => {})
    await lab?.cleanup()
    if (workDir !== '') await rm(workDir, { recursive: true, force: true })
    console.log(`deprovisioning figures: ${JSON.stringify(figures)}`)
  })

  /** Signs in, takes a lease for a fresh key, loads it into the client and shows the service answering. */
  async function connect(scenario: TestIdpScenario): Promise<{ jar: CookieJar; publicKey: string }> {
    const { jar } = await broker.login(scenario)
    const keys = generateKeyPair((n) => new Uint8Array(randomBytes(n)))
    const issued = await broker.api(jar, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: keys.publicKey, name: `${scenario.name} laptop` },
    })
    const lease = (await issued.json()) as { config: string }
    expect(issued.status, JSON.stringify(lease)).toBe(201)
    await until(
      'the peer on the gateway',
      async () => ((await gateway.peerKeys()).includes(keys.publicKey) ? true : null),
      10_000,
    )
    await loadLabClient(lab, client, lease.config, keys.privateKey, workDir)
    expect(await lab.pingUntil(ns.cl, SERVICE.host, 10_000)).toBe(true)
    return { jar, publicKey: keys.publicKey }
  }

  /** Waits until `wg show` on the gateway no longer lists the key; the elapsed time since `from`. */
  async function peerGone(publicKey: string, from: number): Promise<number> {
    return until(
      'the peer gone from the gateway',
      async () => ((await gateway.peerKeys()).includes(publicKey) ? null : Date.now() - from),
      DROP_BOUND_MS,
      10,
    )
  }

  /** Two echoes in a row unanswered: one lost echo could be chance, a removed peer loses every one. */
  async function unreachable(): Promise<boolean> {
    return !(await lab.ping(ns.cl, SERVICE.host, 1_000)) && !(await lab.ping(ns.cl, SERVICE.host, 1_000))
  }

  it('a SCIM deactivation (Okta-shaped) drops the peer from wireguard-go and the traffic stops', async () => {
    const carol = person('carol')
    const { jar, publicKey } = await connect(carol)
    const created = await scim('POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: carol.email,
      emails: [{ primary: true, value: carol.email, type: 'work' }],
      externalId: '00u1deprov',
      active: true,
    })
    expect(created.status).toBe(201)
    // Provisioning the user changes nothing live.
    expect(await lab.ping(ns.cl, SERVICE.host, 1_000)).toBe(true)

    const sentAt = Date.now()
    const deactivated = await scim('PATCH', `/Users/${created.body.id}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: 'replace', value: { active: false } }],
    })
    expect(deactivated.status).toBe(200)
    figures.scimDeactivationToPeerGoneMs = await peerGone(publicKey, sentAt)
    expect(await unreachable()).toBe(true)
    expect((await broker.api(jar, '/api/v1/me')).status).toBe(401)
    // The gateway's filter holds nothing for the removed lease either.
    expect(await gateway.peerKeys()).toEqual([])
  })

  it('signing out at the IdP (back-channel logout) drops the peer from wireguard-go and the traffic stops', async () => {
    const { jar, publicKey } = await connect(person('dora'))
    const signedOutAt = Date.now()
    await broker.idp.logoutAtIdp(jar)
    figures.backchannelLogoutToPeerGoneMs = await peerGone(publicKey, signedOutAt)
    expect(await unreachable()).toBe(true)
    expect((await broker.api(jar, '/api/v1/me')).status).toBe(401)
    expect(await gateway.peerKeys()).toEqual([])
  })
})
