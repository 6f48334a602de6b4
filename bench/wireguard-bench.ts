/**
 * Full-snapshot apply: 10,000 peers onto a fresh wireguard-go interface through the agent's apply path
 * (parse the sync response, applyFeedPage, one UAPI write per chunk) against one raw `wg set` process
 * carrying the same peers with the same preshared keys. Each trial gets its own fresh interface in a lab
 * namespace; the two kinds alternate so machine noise hits both. Reports medians and their ratio
 * (goal: the agent within 2x of raw `wg set`). Run alone: `tsx bench/wireguard-bench.ts`.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createUapiInterface } from '../src/adapters/wireguard/uapi-interface.ts'
import { encodeBase64 } from '../src/core/peers/base64.ts'
import { generateKeyPair } from '../src/core/peers/keys.ts'
import { applyFeedPage } from '../src/core/sync/desired-peers.ts'
import type { DesiredPeers } from '../src/core/sync/peer-state.ts'
import { PROTOCOL_VERSION, parseSyncResponse, type SyncResponse } from '../src/core/sync/protocol.ts'
import { canRunNetnsLab, createNetnsLab } from '../test/support/netns.ts'

const PEERS = 10_000
const TRIALS = 5

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function wg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('wg', args, { maxBuffer: 256 * 1024 * 1024 }, (error, _stdout, stderr) =>
      error ? reject(new Error(`wg ${args[0]}: ${stderr || error.message}`)) : resolve(),
    )
  })
}

export async function benchSnapshotApply(): Promise<Record<string, unknown>> {
  if (!(await canRunNetnsLab())) return { skipped: 'needs root, ip, wg and wireguard-go' }
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))
  // Random 32-byte strings stand in for public keys (WireGuard accepts any non-low-order point, and
  // real keygen would only slow the set-up); each is still validated by parseSyncResponse below.
  const now = Date.now()
  const snapshot: SyncResponse = {
    protocolVersion: PROTOCOL_VERSION,
    version: 1,
    reset: true,
    more: false,
    serverTime: now,
    removals: [],
    upserts: Array.from({ length: PEERS }, (_, i) => ({
      publicKey: encodeBase64(random(32)),
      presharedKey: encodeBase64(random(32)),
      allowedIps: [`198.19.${64 + (i >> 8)}.${i & 255}/32`],
      routes: ['198.18.64.0/24'],
      expiresAt: now + 3_600_000,
    })),
    network: { ipv4: '198.19.0.0/16', ipv6: null },
  }
  const body = JSON.stringify(snapshot)

  const lab = createNetnsLab()
  const pskDir = await mkdtemp(join(tmpdir(), 'keygate-bench-psk-'))
  const agentMs: number[] = []
  const rawMs: number[] = []
  try {
    const ns = await lab.namespace('bench')
    // The raw call's preshared-key files are written before timing: that is the floor being compared to.
    await Promise.all(
      snapshot.upserts.map((u, i) =>
        writeFile(join(pskDir, String(i)), `${u.presharedKey}\n`, { mode: 0o600 }),
      ),
    )
    const rawArgs = (iface: string) => [
      'set',
      iface,
      ...snapshot.upserts.flatMap((u, i) => [
        'peer',
        u.publicKey,
        'preshared-key',
        join(pskDir, String(i)),
        'allowed-ips',
        u.allowedIps[0]!,
      ]),
    ]

    for (let trial = 0; trial < TRIALS; trial++) {
      for (const kind of trial % 2 === 0 ? (['agent', 'raw'] as const) : (['raw', 'agent'] as const)) {
        const gw = await lab.startWireGuardGo(ns)
        const iface = createUapiInterface(gw.iface)
        await iface.setPrivateKey(generateKeyPair(random).privateKey)
        let elapsed: number
        if (kind === 'agent') {
          const started = performance.now()
          const desired: DesiredPeers = new Map()
          const delta = applyFeedPage(desired, parseSyncResponse(JSON.parse(body)), Date.now())
          await iface.applyPeers(delta.peers)
          elapsed = performance.now() - started
          agentMs.push(elapsed)
        } else {
          const args = rawArgs(gw.iface)
          const started = performance.now()
          await wg(args)
          elapsed = performance.now() - started
          rawMs.push(elapsed)
        }
        const count = (await iface.listPeers()).length
        if (count !== PEERS)
          throw new Error(`${kind} trial left ${count} peers on the interface, expected ${PEERS}`)
        await gw.stop()
      }
    }
  } finally {
    await rm(pskDir, { recursive: true, force: true })
    await lab.cleanup()
  }
  const agent = median(agentMs)
  const raw = median(rawMs)
  return {
    name: 'wireguard.snapshot_apply',
    peers: PEERS,
    trials: TRIALS,
    backend: 'wireguard-go UAPI',
    agentMedianMs: Math.round(agent),
    rawWgSetMedianMs: Math.round(raw),
    ratio: Number((agent / raw).toFixed(2)),
    goal: 'agent / raw wg set <= 2',
    agentRunsMs: agentMs.map(Math.round),
    rawRunsMs: rawMs.map(Math.round),
    note: 'agent path = JSON.parse + parseSyncResponse + applyFeedPage + UAPI set (2 chunks of 5,000); raw = one `wg set` with the same peers and preshared-key files written beforehand; fresh interface per trial',
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchSnapshotApply(), null, 2))
}
