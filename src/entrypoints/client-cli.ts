/**
 * The terminal client: `keygate login`, `up [--config-only FILE]`, `status [--json]`, `down`, `logout`.
 * Wiring only: the device sign-in and lease calls are adapters/client/broker-client.ts, the interface is
 * adapters/client/linux-tunnel.ts, the state directory adapters/client/client-state.ts, and when to
 * renew or sign in again is core's renewal plan.
 *
 * `up` stays in the foreground: it renews the lease ahead of its end with the client credential (same
 * key, same address, the interface untouched), starts a device sign-in for the same lease when the
 * policy wants a fresh one, and follows its lease's feed, so a revocation or re-route reaches it within
 * seconds; it tears the tunnel down, and says why, when the lease ends. SIGINT/SIGTERM (or `keygate
 * down`) bring it down and leave nothing behind but the state directory.
 */
import { spawn } from 'node:child_process'
import { chmod, rm, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { parseArgs } from 'node:util'
import QRCode from 'qrcode'
import {
  type BrokerClient,
  createBrokerClient,
  DeviceSignInRefused,
} from '../adapters/client/broker-client.ts'
import {
  type ClientState,
  createClientState,
  defaultStateDir,
  type StoredLease,
} from '../adapters/client/client-state.ts'
import {
  createLinuxTunnel,
  DEFAULT_CLIENT_INTERFACE,
  interfaceExists,
  type LinuxTunnel,
  removeInterface,
  renderTunnelConfig,
} from '../adapters/client/linux-tunnel.ts'
import type { ClientLeaseView } from '../core/device/client-lease.ts'
import type { DeviceAuthorizationResponse, DeviceTokenBody } from '../core/device/device-sign-in.ts'
import { nextStep, RENEW_RETRY_MS } from '../core/device/renewal-plan.ts'
import { isKeygateError, KeygateError } from '../core/errors.ts'

export const CLIENT_USAGE = `usage: keygate login [--broker URL] [--name NAME]
       keygate up [--broker URL] [--name NAME] [--interface IFACE] [--config-only FILE]
       keygate status [--json]
       keygate down
       keygate logout
  (state in --state-dir, KEYGATE_CLIENT_STATE_DIR, /var/lib/keygate/client as root, else ~/.config/keygate)
`

const WATCH_SECONDS = 25

interface Output {
  out(text: string): void
  err(text: string): void
}

const stdio: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}

export async function runClientCommand(command: string, argv: string[], io: Output = stdio): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      broker: { type: 'string' },
      name: { type: 'string' },
      interface: { type: 'string' },
      'config-only': { type: 'string' },
      'state-dir': { type: 'string' },
      json: { type: 'boolean' },
      'no-browser': { type: 'boolean' },
    },
    strict: true,
  })
  const state = createClientState(values['state-dir'] ?? defaultStateDir())
  const options = {
    broker: values.broker ?? process.env.KEYGATE_URL,
    name: values.name ?? hostname().slice(0, 64),
    openBrowser: values['no-browser'] !== true && process.env.KEYGATE_NO_BROWSER === undefined,
  }
  switch (command) {
    case 'login':
      await login(state, options, io)
      return 0
    case 'up':
      return up(
        state,
        options,
        values.interface ?? DEFAULT_CLIENT_INTERFACE,
        values['config-only'] ?? null,
        io,
      )
    case 'status':
      return status(state, values.json === true, io)
    case 'down':
      return down(state, io)
    case 'logout':
      return logout(state, io)
  }
  io.err(CLIENT_USAGE)
  return 2
}

interface LoginOptions {
  broker: string | undefined
  name: string
  openBrowser: boolean
}

/** Signs this device in (a new lease for its key), or returns the lease it already holds. */
async function login(state: ClientState, options: LoginOptions, io: Output): Promise<StoredLease> {
  const held = await state.readLease()
  const broker = options.broker ?? held?.broker
  if (broker === undefined) {
    throw new KeygateError(
      'INVALID_REQUEST',
      'Name the broker: --broker https://keygate.example.com (or KEYGATE_URL)',
    )
  }
  const client = createBrokerClient(broker)
  if (held !== null && held.broker === client.base) {
    const view = await client.lease(held.leaseId, held.credential).catch((error: unknown) => {
      if (isKeygateError(error, 'CLIENT_CREDENTIAL_INVALID') || isKeygateError(error, 'NOT_FOUND'))
        return null
      throw error
    })
    if (view !== null && view.lease.state === 'active') {
      io.err(`Already signed in: lease ${held.leaseId} until ${view.lease.expiresAt}.\n`)
      return held
    }
    await state.forgetLease()
  }
  const keys = await state.keyPair()
  const started = await client.authorize({ publicKey: keys.publicKey, name: options.name })
  await announce(started, options.openBrowser, 'Approve this device', io)
  const token = await client.waitForToken(started)
  if (token.preshared_key === undefined)
    throw new KeygateError('INTERNAL', 'The broker sent no preshared key')
  const lease = storedLease(client.base, token, token.preshared_key, Date.now())
  await state.writeLease(lease)
  io.err(`Signed in: lease ${lease.leaseId} until ${lease.expiresAt}.\n`)
  return lease
}

function storedLease(broker: string, token: DeviceTokenBody, presharedKey: string, now: number): StoredLease {
  const expires = Date.parse(token.lease.expiresAt)
  return {
    broker,
    leaseId: token.lease.id,
    credential: token.access_token,
    presharedKey,
    name: token.lease.name,
    expiresAt: token.lease.expiresAt,
    since: new Date(now).toISOString(),
    lifetimeMs: Math.max(expires - now, 1_000),
    tunnel: token.tunnel,
  }
}

/** The URL and code, the URL as a QR code for a phone, a browser where there is one, a notification. */
async function announce(
  started: DeviceAuthorizationResponse,
  openBrowser: boolean,
  title: string,
  io: Output,
) {
  const qr = await QRCode.toString(started.verification_uri_complete, { type: 'terminal', small: true })
  io.out(
    `${title}: open ${started.verification_uri} and enter ${started.user_code}\n` +
      `  or go straight to ${started.verification_uri_complete}\n${qr}\n`,
  )
  if (openBrowser && (process.env.DISPLAY || process.env.WAYLAND_DISPLAY)) {
    detached('xdg-open', [started.verification_uri_complete])
    detached('notify-send', ['Keygate', `${title}: code ${started.user_code}`])
  }
}

function detached(file: string, args: string[]) {
  try {
    const child = spawn(file, args, { stdio: 'ignore', detached: true })
    child.on('error', () => {}) // not installed: the printed URL is enough
    child.unref()
  } catch {
    // as above
  }
}

async function up(
  state: ClientState,
  options: LoginOptions,
  interfaceName: string,
  configFile: string | null,
  io: Output,
): Promise<number> {
  const running = await state.readUp()
  if (running !== null && isAlive(running.pid)) {
    throw new KeygateError(
      'INVALID_REQUEST',
      `keygate up is already running (pid ${running.pid}); run keygate down first`,
    )
  }
  let lease = await login(state, options, io)
  const keys = await state.keyPair()
  const client = createBrokerClient(lease.broker)
  let tunnel: LinuxTunnel | null = null
  if (configFile === null) {
    tunnel = await createLinuxTunnel(interfaceName)
  }
  await state.writeUp({
    pid: process.pid,
    interface: tunnel?.name ?? null,
    configFile,
    userspacePid: tunnel?.userspacePid ?? null,
  })
  const apply = async (description: StoredLease['tunnel']) => {
    const material = { privateKey: keys.privateKey, presharedKey: lease.presharedKey }
    if (tunnel !== null) await tunnel.apply(description, material)
    if (configFile !== null) {
      await writeFile(configFile, renderTunnelConfig(description, material, lease.name), { mode: 0o600 })
      await chmod(configFile, 0o600)
    }
  }

  const stop = new AbortController()
  let reason = 'stopped'
  let exitCode = 0
  const end = (why: string, code: number) => {
    if (stop.signal.aborted) return
    reason = why
    exitCode = code
    stop.abort()
  }
  const onSignal = () => end('stopped', 0)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  try {
    await apply(lease.tunnel)
    io.err(
      configFile === null
        ? `Tunnel ${interfaceName} is up: ${lease.tunnel.addresses.join(', ')} via ${lease.tunnel.peers.map((p) => p.gateway).join(', ') || 'no gateway yet'}.\n`
        : `Wrote ${configFile}; keeping its lease alive until keygate down.\n`,
    )
    const session = {
      get lease() {
        return lease
      },
      async update(next: StoredLease) {
        lease = next
        await state.writeLease(next)
      },
    }
    await Promise.race([
      followLease(client, session, apply, end, stop.signal, io),
      keepRenewed(client, session, state, options.openBrowser, end, stop.signal, io),
      new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true })),
    ])
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    if (tunnel !== null) await tunnel.down()
    if (configFile !== null) await rm(configFile, { force: true })
    await state.forgetUp()
    await state.forgetStatus()
  }
  io.err(reason === 'stopped' ? 'Tunnel down.\n' : `Tunnel down: ${reason}.\n`)
  return exitCode
}

interface LeaseSession {
  readonly lease: StoredLease
  update(next: StoredLease): Promise<void>
}

/** The client feed: applies re-routes, and ends the tunnel when the lease is revoked or gone. */
async function followLease(
  client: BrokerClient,
  session: LeaseSession,
  apply: (tunnel: StoredLease['tunnel']) => Promise<void>,
  end: (why: string, code: number) => void,
  signal: AbortSignal,
  io: Output,
): Promise<void> {
  let since = ''
  let applied = JSON.stringify(session.lease.tunnel)
  while (!signal.aborted) {
    let view: ClientLeaseView
    try {
      const { leaseId, credential } = session.lease
      view = await client.watch(leaseId, credential, since, since === '' ? 0 : WATCH_SECONDS, signal)
    } catch (error) {
      if (signal.aborted) return
      if (isKeygateError(error, 'CLIENT_CREDENTIAL_INVALID')) {
        // A renewal sign-in may just have replaced the credential; otherwise the lease is over.
        const fresh = await client.lease(session.lease.leaseId, session.lease.credential).catch(() => null)
        if (fresh === null) return end(`the lease has ended: ${error.message}`, 1)
        continue
      }
      await pause(RENEW_RETRY_MS, signal)
      continue
    }
    since = view.state
    if (view.lease.state === 'revoked') {
      return end(`the lease was revoked (${view.lease.revokedReason ?? 'no reason given'})`, 1)
    }
    if (view.lease.state === 'expired') return end('the lease expired', 1)
    const tunnel = JSON.stringify(view.tunnel)
    if (tunnel !== applied) {
      await apply(view.tunnel)
      applied = tunnel
      io.err(`Peers updated: ${view.tunnel.peers.map((p) => p.gateway).join(', ') || 'none'}.\n`)
    }
    if (view.lease.expiresAt !== session.lease.expiresAt || tunnel !== JSON.stringify(session.lease.tunnel)) {
      await session.update({ ...session.lease, expiresAt: view.lease.expiresAt, tunnel: view.tunnel })
    }
  }
}

/** Renews ahead of the end; signs in again for the same lease when the policy wants a fresh sign-in. */
async function keepRenewed(
  client: BrokerClient,
  session: LeaseSession,
  state: ClientState,
  openBrowser: boolean,
  end: (why: string, code: number) => void,
  signal: AbortSignal,
  io: Output,
): Promise<void> {
  let signInValidUntil: number | null = null
  const refreshAdvice = async () => {
    const view = await client.lease(session.lease.leaseId, session.lease.credential)
    signInValidUntil =
      view.renewal.signInValidUntil === null ? null : Date.parse(view.renewal.signInValidUntil)
  }
  await refreshAdvice().catch(() => {})
  while (!signal.aborted) {
    const lease = session.lease
    const expiresAt = Date.parse(lease.expiresAt)
    const step = nextStep({
      since: Date.parse(lease.since),
      expiresAt,
      signInValidUntil,
      lifetime: lease.lifetimeMs,
    })
    await state.writeStatus({
      next: step.kind,
      at: new Date(step.at).toISOString(),
      signInValidUntil: signInValidUntil === null ? null : new Date(signInValidUntil).toISOString(),
    })
    const now = Date.now()
    if (now >= expiresAt) return end('the lease expired', 1)
    await pause(Math.max(0, Math.min(step.at, expiresAt) - now), signal)
    if (signal.aborted) return
    if (Date.now() >= expiresAt) return end('the lease expired before it could be renewed', 1)
    if (step.kind === 'renew') {
      try {
        const renewed = await client.renew(lease.leaseId, lease.credential)
        if (renewed.expiresAt === session.lease.expiresAt) {
          await refreshAdvice()
          if (signInValidUntil === null) signInValidUntil = Date.parse(renewed.expiresAt)
          continue
        }
        await session.update({
          ...session.lease,
          expiresAt: renewed.expiresAt,
          since: new Date().toISOString(),
        })
      } catch (error) {
        if (
          isKeygateError(error, 'STEP_UP_REQUIRED') ||
          isKeygateError(error, 'MFA_REQUIRED') ||
          isKeygateError(error, 'AUTH_TOO_OLD')
        ) {
          signInValidUntil = Date.now()
          continue
        }
        if (isKeygateError(error, 'CLIENT_CREDENTIAL_INVALID') || isKeygateError(error, 'POLICY_DENIED')) {
          return end(`renewal refused: ${(error as KeygateError).message}`, 1)
        }
        await pause(RENEW_RETRY_MS, signal)
      }
      continue
    }
    // A fresh sign-in for this lease: the tunnel keeps running while the person approves.
    try {
      const keys = await state.keyPair()
      const started = await client.authorize({
        publicKey: keys.publicKey,
        name: lease.name,
        leaseId: lease.leaseId,
        credential: lease.credential,
      })
      await announce(started, openBrowser, `Sign in again to keep the tunnel after ${lease.expiresAt}`, io)
      const expiry = AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, expiresAt - Date.now()))])
      const token = await client.waitForToken(started, expiry)
      await session.update({
        ...session.lease,
        credential: token.access_token,
        expiresAt: token.lease.expiresAt,
        since: new Date().toISOString(),
        tunnel: token.tunnel,
      })
      await refreshAdvice()
      io.err(`Signed in again: lease ${lease.leaseId} until ${token.lease.expiresAt}.\n`)
    } catch (error) {
      if (signal.aborted) return
      if (error instanceof DeviceSignInRefused) io.err(`Sign-in for renewal refused: ${error.message}\n`)
      else if (Date.now() < expiresAt) io.err(`Sign-in for renewal failed: ${describe(error)}\n`)
      // Nothing more to do but wait for the end: the tunnel stays until the lease actually ends.
      await pause(Math.max(0, expiresAt - Date.now()), signal)
      if (!signal.aborted) return end('the lease expired: the sign-in was not renewed', 1)
    }
  }
}

async function status(state: ClientState, json: boolean, io: Output): Promise<number> {
  const lease = await state.readLease()
  const running = await state.readUp()
  const alive = running !== null && isAlive(running.pid)
  const advice = alive ? await state.readStatus() : null
  let view: ClientLeaseView | null = null
  let problem: string | null = null
  if (lease !== null) {
    view = await createBrokerClient(lease.broker)
      .lease(lease.leaseId, lease.credential)
      .catch((error: unknown) => {
        problem = describe(error)
        return null
      })
  }
  const iface = alive ? running.interface : null
  const stats = iface !== null && (await interfaceExists(iface)) ? await readStats(iface) : []
  const report = {
    signedIn: lease !== null && view !== null,
    broker: lease?.broker ?? null,
    lease:
      lease === null
        ? null
        : {
            id: lease.leaseId,
            name: lease.name,
            state: view?.lease.state ?? 'unknown',
            expiresAt: view?.lease.expiresAt ?? lease.expiresAt,
            addresses: (view?.tunnel ?? lease.tunnel).addresses,
          },
    running: alive
      ? { pid: running.pid, interface: running.interface, configFile: running.configFile }
      : null,
    gateways:
      (view?.tunnel ?? lease?.tunnel)?.peers.map((peer) => {
        const s = stats.find((x) => x.publicKey === peer.publicKey)
        return {
          name: peer.gateway,
          endpoint: peer.endpoint,
          routes: peer.allowedIps,
          latestHandshake: s?.latestHandshake == null ? null : new Date(s.latestHandshake).toISOString(),
          rxBytes: s?.rxBytes ?? null,
          txBytes: s?.txBytes ?? null,
        }
      }) ?? [],
    nextRenewal:
      view === null
        ? null
        : {
            needs: view.renewal.needsSignIn ? 'sign-in' : 'nothing',
            signInBy: view.renewal.signInValidUntil,
            ...(advice === null ? {} : { scheduled: advice }),
          },
    problem,
  }
  if (json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`)
    return report.signedIn ? 0 : 1
  }
  if (report.lease === null) {
    io.out('Not signed in. Run: keygate up --broker URL\n')
    return 1
  }
  const lines = [
    `Lease ${report.lease.id} (${report.lease.state}) until ${report.lease.expiresAt}`,
    `  addresses ${report.lease.addresses.join(', ')}`,
    report.running === null
      ? '  tunnel: not running (keygate up)'
      : `  tunnel: ${report.running.interface ?? `config file ${report.running.configFile}`} (pid ${report.running.pid})`,
    ...report.gateways.map(
      (g) =>
        `  gateway ${g.name} ${g.endpoint}: handshake ${g.latestHandshake ?? 'none'}, received ${g.rxBytes ?? '-'} B, sent ${g.txBytes ?? '-'} B`,
    ),
    report.nextRenewal === null
      ? `  broker: ${problem ?? 'unreachable'}`
      : report.nextRenewal.needs === 'sign-in'
        ? `  next renewal: a fresh sign-in by ${report.nextRenewal.signInBy}`
        : '  next renewal: nothing (automatic)',
  ]
  io.out(`${lines.join('\n')}\n`)
  return 0
}

async function readStats(iface: string) {
  const { parseDumpStats } = await import('../adapters/client/linux-tunnel.ts')
  const { execFile } = await import('node:child_process')
  return new Promise<ReturnType<typeof parseDumpStats>>((resolve) => {
    execFile('wg', ['show', iface, 'dump'], (error, stdout) => resolve(error ? [] : parseDumpStats(stdout)))
  })
}

/** Stops a running `up` (which tears down what it made), or removes what a dead one left. */
async function down(state: ClientState, io: Output): Promise<number> {
  const running = await state.readUp()
  if (running === null) {
    io.err('Nothing is up.\n')
    return 0
  }
  if (isAlive(running.pid)) {
    process.kill(running.pid, 'SIGTERM')
    const deadline = Date.now() + 10_000
    while (isAlive(running.pid) && Date.now() < deadline) await pause(50)
  }
  if (running.interface !== null) await removeInterface(running.interface, running.userspacePid)
  if (running.configFile !== null) await rm(running.configFile, { force: true })
  await state.forgetUp()
  await state.forgetStatus()
  io.err('Tunnel down.\n')
  return 0
}

/** Ends the lease at the broker (the gateways drop it) and forgets the credential. The key stays. */
async function logout(state: ClientState, io: Output): Promise<number> {
  await down(state, { out: () => {}, err: () => {} })
  const lease = await state.readLease()
  if (lease === null) {
    io.err('Not signed in.\n')
    return 0
  }
  await createBrokerClient(lease.broker)
    .end(lease.leaseId, lease.credential)
    .catch((error: unknown) => {
      if (!isKeygateError(error, 'CLIENT_CREDENTIAL_INVALID')) throw error
    })
  await state.forgetLease()
  io.err(`Signed out: lease ${lease.leaseId} ended.\n`)
  return 0
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        resolve()
      },
      { once: true },
    )
  })
}

function describe(error: unknown): string {
  if (isKeygateError(error)) return `${error.code}: ${error.message}`
  return error instanceof Error ? error.message : String(error)
}
