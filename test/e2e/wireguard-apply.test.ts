// Real wireguard-go in network namespaces: the agent's interface adapters apply batches, read back,
// reconcile strays away, and a real tunnel passes traffic only while its peer is applied.
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createUapiInterface } from '../../src/adapters/wireguard/uapi-interface.ts'
import { createWgCliInterface } from '../../src/adapters/wireguard/wg-cli-interface.ts'
import { generateKeyPair } from '../../src/core/peers/keys.ts'
import { fillPrivateKey, renderClientConfig, stripWgQuickFields } from '../../src/core/peers/wg-config.ts'
import type { PeerState } from '../../src/core/sync/peer-state.ts'
import { reconcilePeers } from '../../src/core/sync/reconcile.ts'
import { canRunNetnsLab, createNetnsLab, type NetnsLab, type WireGuardGoProcess } from '../support/netns.ts'

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))
const canRun = await canRunNetnsLab()

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

    // The client is configured the way a user would: the rendered wg-quick file, private key filled in,
    // wg-quick fields stripped, loaded with `wg setconf`; the address and route as wg-quick would add them.
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
    expect(setconf.stderr).toBe('')
    expect(setconf.code).toBe(0)
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

  it('applies 1,500 peers in one UAPI batch', async () => {
    const gw = await lab.startWireGuardGo(gatewayNs)
    const iface = createUapiInterface(gw.iface)
    const peers = fakePeers(1_500, 1_000)
    const started = performance.now()
    await iface.applyPeers({ set: peers, remove: [] })
    const elapsed = performance.now() - started
    expect(byKey(await iface.listPeers())).toEqual(byKey(peers))
    expect(elapsed).toBeLessThan(10_000)
    await gw.stop()
  })

  it('applies 1,200 peers with preshared keys through the wg tool in chunked `wg set` calls', async () => {
    const gw = await lab.startWireGuardGo(gatewayNs)
    const iface = createWgCliInterface(gw.iface, {
      commandPrefix: ['ip', 'netns', 'exec', gatewayNs],
      chunkSize: 500,
    })
    const peers = fakePeers(1_200, 3_000)
    await iface.applyPeers({ set: peers, remove: [] })
    expect(byKey(await iface.listPeers())).toEqual(byKey(peers))
    await iface.applyPeers({ set: [], remove: peers.slice(0, 700).map((p) => p.publicKey) })
    expect((await iface.listPeers()).length).toBe(500)
    const keys = generateKeyPair(random)
    await iface.setPrivateKey(keys.privateKey)
    expect(await iface.getPublicKey()).toBe(keys.publicKey)
    await gw.stop()
  })
})
