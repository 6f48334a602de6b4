// Real wireguard-go in network namespaces: the agent's interface adapters apply batches, read back,
// reconcile strays away, and a real tunnel passes traffic only while its peer is applied.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNftPacketFilter } from '../../src/adapters/firewall/nft-packet-filter.ts'
import { runGatewayAgent } from '../../src/adapters/gateway/agent.ts'
import { createMemoryAgentState } from '../../src/adapters/gateway/agent-state.ts'
import { type BrokerClient, BrokerError } from '../../src/adapters/gateway/broker-client.ts'
import { silentLogger } from '../../src/adapters/runtime/json-logger.ts'
import { cryptoRandom, systemClock } from '../../src/adapters/runtime/web-runtime.ts'
import { createUapiInterface, uapiExchange } from '../../src/adapters/wireguard/uapi-interface.ts'
import { createWgCliInterface } from '../../src/adapters/wireguard/wg-cli-interface.ts'
import { generateKeyPair } from '../../src/core/peers/keys.ts'
import { fillPrivateKey, renderClientConfig, stripWgQuickFields } from '../../src/core/peers/wg-config.ts'
import type { PeerState } from '../../src/core/sync/peer-state.ts'
import { PROTOCOL_VERSION } from '../../src/core/sync/protocol.ts'
import { reconcilePeers } from '../../src/core/sync/reconcile.ts'
import { createNetnsLab, type NetnsLab, requireNetnsLab, type WireGuardGoProcess } from '../support/netns.ts'

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))
const canRun = await requireNetnsLab({ nft: true })

function fakePeers(count: number, offset = 0): PeerState[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + offset
    return {
      publicKey: generateKeyPair(random).publicKey,
      presharedKey: generateKeyPair(random).privateKey,
      // Overlay addresses inside the lab's 198.18.0.0/15: 198.19.64.0 and up.
      allowedIps: [`198.19.${64 + (n >> 8)}.${n & 255}/32`],
    }
  })
}

function byKey(peers: PeerState[]) {
  return new Map(
    peers.map((p) => [p.publicKey, { presharedKey: p.presharedKey, allowedIps: [...p.allowedIps].sort() }]),
  )
}

describe.skipIf(!canRun)('applying peers to real wireguard-go', () => {
  let lab: NetnsLab
  let gatewayNs: string
  let clientNs: string
  let gateway: WireGuardGoProcess
  let client: WireGuardGoProcess
  const gatewayKeys = generateKeyPair(random)
  const clientKeys = generateKeyPair(random)
  const clientPsk = generateKeyPair(random).privateKey
  const clientPeer: PeerState = {
    publicKey: clientKeys.publicKey,
    presharedKey: clientPsk,
    allowedIps: ['198.19.0.2/32'],
  }

  // The client is configured the way a user would: the rendered wg-quick file, private key filled in,
  // wg-quick fields stripped, loaded with `wg setconf` (which also starts a fresh session); the address and
  // route are added as wg-quick would.
  async function loadClientConfig(): Promise<void> {
    const config = renderClientConfig({
      addresses: ['198.19.0.2/32'],
      dns: [],
      name: 'e2e\n[Peer]\nAllowedIPs = 0.0.0.0/0',
      peers: [
        {
          publicKey: gatewayKeys.publicKey,
          presharedKey: clientPsk,
          endpoint: '198.18.0.1:51820',
          allowedIps: ['198.19.0.0/24'],
        },
      ],
    })
    const file = join(tmpdir(), `keygate-e2e-${lab.id}.conf`)
    await writeFile(file, stripWgQuickFields(fillPrivateKey(config, clientKeys.privateKey)), { mode: 0o600 })
    const setconf = await lab.exec(clientNs, ['wg', 'setconf', client.iface, file])
    await rm(file, { force: true })
    expect(setconf.stderr).toBe('')
    expect(setconf.code).toBe(0)
  }

  beforeAll(async () => {
    lab = createNetnsLab()
    gatewayNs = await lab.namespace('gw')
    clientNs = await lab.namespace('client')
    await lab.vethPair(
      { namespace: gatewayNs, address: '198.18.0.1/30' },
      { namespace: clientNs, address: '198.18.0.2/30' },
    )
    gateway = await lab.startWireGuardGo(gatewayNs)
    client = await lab.startWireGuardGo(clientNs)

    const gw = createUapiInterface(gateway.iface)
    await gw.setPrivateKey(gatewayKeys.privateKey)
    await gw.setListenPort(51820)
    expect(await gw.getPublicKey()).toBe(gatewayKeys.publicKey)
    const up = await lab.exec(gatewayNs, ['ip', 'addr', 'add', '198.19.0.1/24', 'dev', gateway.iface])
    expect(up.stderr).toBe('')

    await loadClientConfig()
    await lab.exec(clientNs, ['ip', 'addr', 'add', '198.19.0.2/32', 'dev', client.iface])
    await lab.exec(clientNs, ['ip', 'route', 'add', '198.19.0.0/24', 'dev', client.iface])
  })

  afterAll(async () => {
    await lab?.cleanup()
  })

  it('applies a batch through UAPI and reads it back exactly', async () => {
    const gw = createUapiInterface(gateway.iface)
    const peers = fakePeers(200)
    await gw.applyPeers({ set: peers, remove: [] })
    const actual = await gw.listPeers()
    expect(byKey(actual)).toEqual(byKey(peers))
    // A second apply replaces allowed IPs and the preshared key rather than merging.
    const changed = { ...peers[0]!, presharedKey: null, allowedIps: ['198.19.1.1/32', '198.19.1.2/32'] }
    await gw.applyPeers({ set: [changed], remove: [peers[1]!.publicKey] })
    const after = byKey(await gw.listPeers())
    expect(after.get(changed.publicKey)).toEqual({
      presharedKey: null,
      allowedIps: ['198.19.1.1/32', '198.19.1.2/32'],
    })
    expect(after.has(peers[1]!.publicKey)).toBe(false)
    expect(after.size).toBe(199)
  })

  it('reconcile removes strays and keeps what is wanted', async () => {
    const gw = createUapiInterface(gateway.iface)
    const desired = [...fakePeers(20, 300), clientPeer]
    // Strays added behind the agent's back with the wg tool itself.
    const strays = fakePeers(5, 400)
    await createWgCliInterface(gateway.iface, {
      commandPrefix: ['ip', 'netns', 'exec', gatewayNs],
    }).applyPeers({
      set: strays,
      remove: [],
    })
    const delta = reconcilePeers(await gw.listPeers(), desired, Date.now())
    expect(delta.remove).toEqual(expect.arrayContaining(strays.map((p) => p.publicKey)))
    await gw.applyPeers(delta)
    expect(byKey(await gw.listPeers())).toEqual(byKey(desired))
    // Reconciling again finds nothing to do.
    expect(reconcilePeers(await gw.listPeers(), desired, Date.now())).toEqual({ set: [], remove: [] })
  })

  it('passes traffic through a real tunnel only while the peer is applied', async () => {
    const gw = createUapiInterface(gateway.iface)
    const peers = await gw.listPeers()
    if (!peers.some((p) => p.publicKey === clientPeer.publicKey))
      await gw.applyPeers({ set: [clientPeer], remove: [] })
    expect(await lab.pingUntil(clientNs, '198.19.0.1', 5_000)).toBe(true)
    const handshakes = await gw.listPeers()
    expect(handshakes.find((p) => p.publicKey === clientPeer.publicKey)?.latestHandshake).toBeGreaterThan(0)

    await gw.applyPeers({ set: [], remove: [clientPeer.publicKey] })
    expect(await lab.ping(clientNs, '198.19.0.1', 1_000)).toBe(false)
    expect(await lab.ping(clientNs, '198.19.0.1', 1_000)).toBe(false)
    // (Re-adding the same key would pass traffic again only after the client's next handshake, up to
    // REKEY_TIMEOUT + KEEPALIVE_TIMEOUT = 15 s later: WireGuard's timers, not Keygate's.)
  })

  it('the agent applies a snapshot to the real gateway and cuts the tunnel at expiry with the broker down', async () => {
    const gw = createUapiInterface(gateway.iface)
    let online = true
    let served = false
    // The lease's expiry is set when the broker serves it, so a slow start on a loaded machine cannot
    // let it expire before the agent has applied it.
    let expiresAt = Number.POSITIVE_INFINITY
    // A scripted broker: one snapshot with the client's peer (short lease) and 50 others, then unreachable.
    const broker: BrokerClient = {
      async enroll() {
        throw new Error('already enrolled')
      },
      async sync(_credential, since) {
        if (!online || served) {
          await new Promise((r) => setTimeout(r, 100))
          throw new BrokerError('broker down', { retryable: true })
        }
        served = true
        expiresAt = Date.now() + 8_000
        const others = fakePeers(50, 600).map((p) => ({
          ...p,
          presharedKey: p.presharedKey!,
          routes: ['198.18.64.0/24'],
          expiresAt: Date.now() + 600_000,
        }))
        return {
          protocolVersion: PROTOCOL_VERSION,
          version: since + 1,
          reset: true,
          upserts: [
            { ...clientPeer, presharedKey: clientPsk, routes: ['198.18.64.0/24'], expiresAt },
            ...others,
          ],
          removals: [],
          serverTime: Date.now(),
          more: false,
          network: { ipv4: '198.19.0.0/16', ipv6: null },
        }
      },
      async status() {},
    }
    await loadClientConfig() // a fresh client session: the previous test removed this peer mid-session
    const state = createMemoryAgentState()
    await state.saveCredential({
      gateway: 'eu-1',
      credential: 'kgc_e2e-credential-0123456789',
      publicKey: gatewayKeys.publicKey,
      addressV4: '198.19.0.1',
      addressV6: null,
      enrolledAt: Date.now(),
    })
    const agent = await runGatewayAgent(
      { backoff: { baseMs: 50, maxMs: 200 } },
      {
        wg: gw,
        filter: createNftPacketFilter(gateway.iface, { commandPrefix: ['ip', 'netns', 'exec', gatewayNs] }),
        brokers: [broker],
        state,
        clock: systemClock,
        random: cryptoRandom,
        logger: silentLogger,
      },
    )
    try {
      const deadline = Date.now() + 5_000
      while ((await gw.listPeers()).length !== 51 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50))
      expect((await gw.listPeers()).length).toBe(51)
      expect(await lab.pingUntil(clientNs, '198.19.0.1', 3_000)).toBe(true)
      online = false
      while (Date.now() < expiresAt + 1_000) {
        if (!(await gw.listPeers()).some((p) => p.publicKey === clientPeer.publicKey)) break
        await new Promise((r) => setTimeout(r, 50))
      }
      const removedWithinMs = Date.now() - expiresAt
      expect(removedWithinMs).toBeLessThan(1_000)
      expect((await gw.listPeers()).length).toBe(50)
      expect(await lab.ping(clientNs, '198.19.0.1', 1_000)).toBe(false)
    } finally {
      await agent.stop()
    }
  })

  it('applies 1,500 peers in one UAPI batch', async () => {
    const gw = await lab.startWireGuardGo(gatewayNs)
    const requests: string[] = []
    const iface = createUapiInterface(gw.iface, {
      exchange: (path, request, timeoutMs) => {
        requests.push(request.slice(0, request.indexOf('\n')))
        return uapiExchange(path, request, timeoutMs)
      },
    })
    const peers = fakePeers(1_500, 1_000)
    await iface.applyPeers({ set: peers, remove: [] })
    // One set=1 transaction carried all 1,500 peers; the read-back is the only other exchange.
    expect(requests).toEqual(['set=1'])
    expect(byKey(await iface.listPeers())).toEqual(byKey(peers))
    expect(requests).toEqual(['set=1', 'get=1'])
    await gw.stop()
  })

  it('applies 1,200 peers with preshared keys through the wg tool in chunked `wg set` calls', async () => {
    const gw = await lab.startWireGuardGo(gatewayNs)
    // A wrapper records every argv the adapter gives `wg`, then runs the real tool.
    const dir = await mkdtemp(join(tmpdir(), `keygate-wg-argv-${lab.id}-`))
    const log = join(dir, 'argv.log')
    const wrapper = join(dir, 'wg')
    await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec wg "$@"\n`, { mode: 0o700 })
    try {
      const iface = createWgCliInterface(gw.iface, {
        commandPrefix: ['ip', 'netns', 'exec', gatewayNs],
        chunkSize: 500,
        wgPath: wrapper,
      })
      const peers = fakePeers(1_200, 3_000)
      await iface.applyPeers({ set: peers, remove: [] })
      expect(byKey(await iface.listPeers())).toEqual(byKey(peers))
      await iface.applyPeers({ set: [], remove: peers.slice(0, 700).map((p) => p.publicKey) })
      expect((await iface.listPeers()).length).toBe(500)
      const keys = generateKeyPair(random)
      await iface.setPrivateKey(keys.privateKey)
      expect(await iface.getPublicKey()).toBe(keys.publicKey)

      const calls = (await readFile(log, 'utf8')).split('\n').filter(Boolean)
      const sets = calls.filter((c) => c.startsWith(`set ${gw.iface} peer`))
      // 1,200 upserts in chunks of 500: 3 processes; 700 removals: 2 more. Never one per peer.
      expect(sets).toHaveLength(5)
      expect(sets.map((c) => c.split(' peer ').length - 1)).toEqual([500, 500, 200, 500, 200])
      // No preshared or private key ever appears in a process's arguments (every local user can read them).
      for (const secret of [...peers.map((p) => p.presharedKey!), keys.privateKey])
        expect(calls.some((c) => c.includes(secret))).toBe(false)
      expect(calls.some((c) => c.startsWith(`set ${gw.iface} private-key /`))).toBe(true)
    } finally {
      await rm(dir, { recursive: true, force: true })
      await gw.stop()
    }
  })
})
