/**
 * The structural read of a policy: every key known, every value of the right type and form (names, CIDRs,
 * endpoints, durations, members). Each problem is reported where it sits and the value is dropped, so one
 * pass reports everything and later checks never see half-formed values. Cross-references are not checked
 * here (see validate-policy.ts).
 */

import { parseStepUp, STEP_UP_TOKENS } from '../identity/step-up-proof.ts'
import { isVerdict, type Verdict } from '../model.ts'
import { parseCidr, parseEndpoint, parseIp } from './cidr.ts'
import { childPath, type DiagnosticSink, type Site } from './diagnostics.ts'
import { parseDuration } from './durations.ts'
import { GROUP_NAME, type Member, parseMember } from './members.ts'
import type { SyntaxNode } from './parse-policy.ts'
import type {
  AssuranceSpec,
  DenySpec,
  DestinationRef,
  GatewaySpec,
  GrantSpec,
  GroupSpec,
  LeaseSettingsSpec,
  Located,
  NetworkSpec,
  PolicyDocument,
  PolicyTestExpectation,
  PolicyTestSpec,
  RouteSpec,
  SessionsSpec,
} from './policy-document.ts'

export const GATEWAY_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/
export const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/
export const DENIAL_CODES = ['NO_MATCHING_GRANT', 'DENIED_BY_RULE', 'ASSURANCE_UNMET'] as const
/** Longer leases defeat the point of re-checking MFA; a larger value is almost surely a typo. */
export const MAX_TTL_MS = 30 * 86_400_000

const TOP_LEVEL_KEYS = [
  'network',
  'gateways',
  'groups',
  'assurance',
  'grants',
  'deny',
  'admins',
  'leases',
  'sessions',
  'tests',
] as const

/** Live leases one identity may hold when the policy does not say (a laptop, a phone, a few more). */
export const DEFAULT_MAX_LEASES_PER_USER = 10
/** A cap far above any person's devices; more is a typo, and would let one user drain the pool again. */
export const MAX_LEASES_PER_USER = 1000

interface Entry {
  key: string
  keyNode: SyntaxNode
  value: SyntaxNode
  path: string
}

export function readPolicyDocument(root: SyntaxNode | null, sink: DiagnosticSink): PolicyDocument {
  const reader = new Reader(sink)
  const doc: PolicyDocument = {
    network: null,
    gateways: [],
    groups: [],
    assurance: [],
    grants: [],
    deny: [],
    admins: [],
    leases: null,
    sessions: { idpLogoutRevokesLeases: null },
    tests: [],
  }
  if (root === null) return doc
  const top = reader.fields(root, '', TOP_LEVEL_KEYS, 'policy')
  if (top === null) return doc
  const get = (key: string) => top.get(key)
  const network = get('network')
  if (network) doc.network = reader.network(network)
  const gateways = get('gateways')
  if (gateways) doc.gateways = reader.entries(gateways).flatMap((e) => reader.gateway(e) ?? [])
  const groups = get('groups')
  if (groups) doc.groups = reader.entries(groups).flatMap((e) => reader.group(e) ?? [])
  const assurance = get('assurance')
  if (assurance) doc.assurance = reader.entries(assurance).flatMap((e) => reader.assuranceLevel(e) ?? [])
  const grants = get('grants')
  if (grants) doc.grants = reader.list(grants).flatMap(([node, path]) => reader.grant(node, path) ?? [])
  const deny = get('deny')
  if (deny) doc.deny = reader.list(deny).flatMap(([node, path]) => reader.denyRule(node, path) ?? [])
  const admins = get('admins')
  if (admins) doc.admins = reader.members(admins.value, admins.path)
  const leases = get('leases')
  if (leases) doc.leases = reader.leases(leases)
  const sessions = get('sessions')
  if (sessions) doc.sessions = reader.sessions(sessions)
  const tests = get('tests')
  if (tests) doc.tests = reader.list(tests).flatMap(([node, path]) => reader.test(node, path) ?? [])
  return doc
}

/** A likely typo of a known key: same letters in another case, or at most two edits away. */
function isNearMiss(known: string, typed: string): boolean {
  const a = known.toLowerCase()
  const b = typed.toLowerCase()
  if (a === b) return true
  if (Math.abs(a.length - b.length) > 2 || b.length < 3) return false
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = row
  }
  return previous[b.length]! <= 2
}

function describe(node: SyntaxNode): string {
  return node.type === 'object' || node.type === 'array' ? `an ${node.type}` : `a ${node.type}`
}

class Reader {
  private readonly sink: DiagnosticSink

  constructor(sink: DiagnosticSink) {
    this.sink = sink
  }

  site(node: SyntaxNode, path: string): Site {
    return { offset: node.offset, path }
  }

  wrongType(node: SyntaxNode, path: string, expected: string, hint = ''): null {
    this.sink.error(this.site(node, path), 'WRONG_TYPE', `expected ${expected}, got ${describe(node)}`, hint)
    return null
  }

  /** An object's properties, reporting duplicate keys (JSON parsers silently keep the last one). */
  entries(entry: Entry | { value: SyntaxNode; path: string }): Entry[] {
    const { value: node, path } = entry
    if (node.type !== 'object') {
      this.wrongType(node, path, 'an object')
      return []
    }
    const seen = new Set<string>()
    const out: Entry[] = []
    for (const property of node.children ?? []) {
      const [keyNode, value] = property.children ?? []
      if (keyNode === undefined || value === undefined) continue
      const key = String(keyNode.value)
      const keyPath = childPath(path, key)
      if (seen.has(key)) {
        this.sink.error(
          this.site(keyNode, keyPath),
          'DUPLICATE_KEY',
          `"${key}" appears twice`,
          'remove or merge one of them',
        )
        continue
      }
      seen.add(key)
      out.push({ key, keyNode, value, path: keyPath })
    }
    return out
  }

  /** An object with a fixed set of keys; unknown keys are errors, so a typo never silently does nothing. */
  fields(
    node: SyntaxNode,
    path: string,
    allowed: readonly string[],
    what: string,
    required: readonly string[] = [],
  ): Map<string, Entry> | null {
    if (node.type !== 'object') return this.wrongType(node, path, `${what} (an object)`)
    const out = new Map<string, Entry>()
    for (const entry of this.entries({ value: node, path })) {
      if (!allowed.includes(entry.key)) {
        const close = allowed.find((k) => isNearMiss(k, entry.key))
        this.sink.error(
          this.site(entry.keyNode, entry.path),
          'UNKNOWN_KEY',
          `unknown key "${entry.key}" in ${what}`,
          close === undefined ? `known keys: ${allowed.join(', ')}` : `did you mean "${close}"?`,
        )
        continue
      }
      out.set(entry.key, entry)
    }
    for (const key of required) {
      if (!out.has(key)) {
        this.sink.error(this.site(node, path), 'MISSING_KEY', `${what} needs "${key}"`, `add "${key}": …`)
      }
    }
    return out
  }

  list(entry: Entry): Array<[SyntaxNode, string]> {
    if (entry.value.type !== 'array') {
      this.wrongType(entry.value, entry.path, 'an array')
      return []
    }
    return (entry.value.children ?? []).map((node, i) => [node, childPath(entry.path, i)])
  }

  string(node: SyntaxNode, path: string, hint = ''): string | null {
    return node.type === 'string' ? (node.value as string) : this.wrongType(node, path, 'a string', hint)
  }

  strings(node: SyntaxNode, path: string, hint = ''): Located<string>[] {
    if (node.type !== 'array') {
      this.wrongType(node, path, 'an array of strings', hint)
      return []
    }
    const out: Located<string>[] = []
    for (const [i, child] of (node.children ?? []).entries()) {
      const value = this.string(child, childPath(path, i), hint)
      if (value !== null) out.push({ value, at: this.site(child, childPath(path, i)) })
    }
    return out
  }

  boolean(node: SyntaxNode, path: string): boolean | null {
    return node.type === 'boolean' ? (node.value as boolean) : this.wrongType(node, path, 'true or false')
  }

  duration(entry: Entry, what: string, maxMs = Number.POSITIVE_INFINITY): number | null {
    const hint = 'durations look like 8h, 15m, 1h30m, 90s or 2d'
    const text = this.string(entry.value, entry.path, hint)
    if (text === null) return null
    const ms = parseDuration(text)
    const at = this.site(entry.value, entry.path)
    if (ms === null) {
      this.sink.error(at, 'INVALID_DURATION', `"${text}" is not a duration`, hint)
      return null
    }
    if (ms <= 0) {
      this.sink.error(at, 'INVALID_DURATION', `${what} must be positive`, hint)
      return null
    }
    if (ms > maxMs) {
      this.sink.error(
        at,
        'INVALID_DURATION',
        `${what} "${text}" is longer than allowed`,
        `at most ${maxMs / 86_400_000}d`,
      )
      return null
    }
    return ms
  }

  members(node: SyntaxNode, path: string): Located<Member>[] {
    const out: Located<Member>[] = []
    for (const item of this.strings(node, path)) {
      const parsed = parseMember(item.value)
      if (parsed.ok) out.push({ value: parsed.member, at: item.at })
      else this.sink.error(item.at, 'INVALID_MEMBER', parsed.message, parsed.hint)
    }
    return out
  }

  cidr(item: Located<string>): Located<import('./cidr.ts').Cidr> | null {
    const parsed = parseCidr(item.value)
    if (parsed.ok) return { value: parsed.cidr, at: item.at }
    this.sink.error(item.at, 'INVALID_CIDR', parsed.message, parsed.hint)
    return null
  }

  destination(item: Located<string>, what: string): Located<DestinationRef> | null {
    const colon = item.value.lastIndexOf(':')
    const gateway = colon < 0 ? '' : item.value.slice(0, colon)
    const route = colon < 0 ? '' : item.value.slice(colon + 1)
    if (!GATEWAY_NAME.test(gateway) || (route !== '*' && !ROUTE_NAME.test(route))) {
      this.sink.error(
        item.at,
        'INVALID_DESTINATION',
        `"${item.value}" is not a ${what}`,
        'write GATEWAY:ROUTE or GATEWAY:*, e.g. eu-1:prod',
      )
      return null
    }
    return { value: { gateway, route }, at: item.at }
  }

  name(entry: Entry, pattern: RegExp, what: string, hint: string): boolean {
    if (pattern.test(entry.key)) return true
    this.sink.error(
      this.site(entry.keyNode, entry.path),
      'INVALID_NAME',
      `"${entry.key}" is not a valid ${what} name`,
      hint,
    )
    return false
  }

  leases(entry: Entry): LeaseSettingsSpec | null {
    const f = this.fields(entry.value, entry.path, ['maxPerUser'], 'leases')
    if (f === null) return null
    const max = f.get('maxPerUser')
    if (max === undefined) return { maxPerUser: null }
    const hint = `a whole number from 1 to ${MAX_LEASES_PER_USER} (default ${DEFAULT_MAX_LEASES_PER_USER})`
    if (max.value.type !== 'number') return this.wrongType(max.value, max.path, 'a number', hint)
    const value = max.value.value as number
    if (!Number.isInteger(value) || value < 1 || value > MAX_LEASES_PER_USER) {
      this.sink.error(
        this.site(max.value, max.path),
        'INVALID_LEASE_LIMIT',
        `leases.maxPerUser ${value} is out of range`,
        hint,
      )
      return null
    }
    return { maxPerUser: value }
  }

  sessions(entry: Entry): SessionsSpec {
    const f = this.fields(entry.value, entry.path, ['idpLogoutRevokesLeases'], 'sessions')
    const revokes = f?.get('idpLogoutRevokesLeases')
    return { idpLogoutRevokesLeases: revokes ? this.boolean(revokes.value, revokes.path) : null }
  }

  network(entry: Entry): NetworkSpec | null {
    const f = this.fields(entry.value, entry.path, ['ipv4', 'ipv6', 'dns'], 'network', ['ipv4'])
    if (f === null) return null
    let ipv4: NetworkSpec['ipv4'] | null = null
    const v4 = f.get('ipv4')
    if (v4) {
      const text = this.string(v4.value, v4.path)
      const cidr = text === null ? null : this.cidr({ value: text, at: this.site(v4.value, v4.path) })
      if (cidr !== null && cidr.value.family !== 4) {
        this.sink.error(cidr.at, 'INVALID_CIDR', 'network.ipv4 must be an IPv4 prefix', 'e.g. 100.96.0.0/16')
      } else if (cidr !== null && (cidr.value.prefix < 8 || cidr.value.prefix > 30)) {
        this.sink.error(
          cidr.at,
          'INVALID_CIDR',
          `a /${cidr.value.prefix} overlay network is out of range`,
          'use a prefix from /8 to /30, e.g. /16',
        )
      } else {
        ipv4 = cidr
      }
    }
    let ipv6: NetworkSpec['ipv6'] = null
    const v6 = f.get('ipv6')
    if (v6 && v6.value.type !== 'null') {
      const text = this.string(v6.value, v6.path, 'an IPv6 prefix, or null')
      const cidr = text === null ? null : this.cidr({ value: text, at: this.site(v6.value, v6.path) })
      if (cidr !== null && cidr.value.family !== 6) {
        this.sink.error(
          cidr.at,
          'INVALID_CIDR',
          'network.ipv6 must be an IPv6 prefix',
          'e.g. a ULA such as fd7a:115c:a1e0::/64',
        )
      } else if (cidr !== null && (cidr.value.prefix < 16 || cidr.value.prefix > 120)) {
        this.sink.error(
          cidr.at,
          'INVALID_CIDR',
          `a /${cidr.value.prefix} overlay network is out of range`,
          'use a prefix from /16 to /120, e.g. /64',
        )
      } else {
        ipv6 = cidr
      }
    }
    const dnsEntry = f.get('dns')
    const dns = dnsEntry ? this.strings(dnsEntry.value, dnsEntry.path) : []
    for (const server of dns) {
      if (parseIp(server.value) === null) {
        this.sink.error(
          server.at,
          'INVALID_ADDRESS',
          `"${server.value}" is not an IP address`,
          'DNS servers are IP addresses, e.g. 10.10.0.53',
        )
      }
    }
    if (ipv4 === null) return null
    return { ipv4, ipv6, dns: dns.filter((s) => parseIp(s.value) !== null) }
  }

  gateway(entry: Entry): GatewaySpec | null {
    const nameOk = this.name(entry, GATEWAY_NAME, 'gateway', 'lower-case letters, digits and -, e.g. eu-1')
    const f = this.fields(entry.value, entry.path, ['endpoint', 'routes'], `gateway "${entry.key}"`, [
      'endpoint',
    ])
    if (f === null)
      return nameOk
        ? { name: entry.key, at: this.site(entry.keyNode, entry.path), endpoint: '', routes: [] }
        : null
    let endpoint: string | null = null
    const endpointEntry = f.get('endpoint')
    if (endpointEntry) {
      endpoint = this.string(endpointEntry.value, endpointEntry.path)
      if (endpoint !== null) {
        const parsed = parseEndpoint(endpoint)
        if (!parsed.ok) {
          this.sink.error(
            this.site(endpointEntry.value, endpointEntry.path),
            'INVALID_ENDPOINT',
            parsed.message,
            parsed.hint,
          )
          endpoint = null
        }
      }
    }
    const routes: RouteSpec[] = []
    const routesEntry = f.get('routes')
    for (const route of routesEntry ? this.entries(routesEntry) : []) {
      if (!this.name(route, ROUTE_NAME, 'route', 'letters, digits, _ . -; "*" is reserved for all routes'))
        continue
      const cidrs = this.strings(
        route.value,
        route.path,
        'routes are arrays of CIDR prefixes, e.g. ["10.10.0.0/16"]',
      )
        .map((item) => this.cidr(item))
        .filter((c) => c !== null)
      routes.push({ name: route.key, at: this.site(route.keyNode, route.path), cidrs })
    }
    // A gateway with a bad endpoint stays known, so grants naming it do not get a second, false error.
    if (!nameOk) return null
    return { name: entry.key, at: this.site(entry.keyNode, entry.path), endpoint: endpoint ?? '', routes }
  }

  group(entry: Entry): GroupSpec | null {
    const nameOk = entry.key.startsWith('group:') && GROUP_NAME.test(entry.key.slice(6))
    if (!nameOk) {
      const hint = 'group keys look like "group:eng" (letters, digits, _ . - after the prefix)'
      this.sink.error(
        this.site(entry.keyNode, entry.path),
        'INVALID_NAME',
        `"${entry.key}" is not a valid group name`,
        hint,
      )
    }
    const members = this.members(entry.value, entry.path)
    return nameOk ? { name: entry.key, at: this.site(entry.keyNode, entry.path), members } : null
  }

  assuranceLevel(entry: Entry): AssuranceSpec | null {
    const nameOk = this.name(entry, GROUP_NAME, 'assurance level', 'letters, digits, _ . -')
    const keys = ['mfa', 'amrAny', 'acrAny', 'maxAuthAge'] as const
    const f = this.fields(entry.value, entry.path, keys, `assurance level "${entry.key}"`)
    // A level with bad content stays known (requiring everything), so grants naming it get no false error.
    const placeholder: AssuranceSpec = {
      name: entry.key,
      at: this.site(entry.keyNode, entry.path),
      mfa: true,
      amrAny: null,
      acrAny: null,
      maxAuthAgeMs: null,
    }
    if (f === null) return nameOk ? placeholder : null
    if (f.size === 0) {
      this.sink.error(
        this.site(entry.value, entry.path),
        'EMPTY_ASSURANCE',
        `assurance level "${entry.key}" requires nothing`,
        'set at least one of mfa, amrAny, acrAny, maxAuthAge',
      )
      return nameOk ? placeholder : null
    }
    const mfaEntry = f.get('mfa')
    const mfa = mfaEntry ? this.boolean(mfaEntry.value, mfaEntry.path) : false
    const list = (key: 'amrAny' | 'acrAny', hint: string): string[] | null => {
      const e = f.get(key)
      if (!e) return null
      const items = this.strings(e.value, e.path, hint)
      if (e.value.type === 'array' && items.length === 0) {
        this.sink.error(
          this.site(e.value, e.path),
          'EMPTY_LIST',
          `${key} is empty, so nothing can meet it`,
          'list at least one value or remove the key',
        )
      }
      return items.map((i) => i.value)
    }
    const amrAny = list('amrAny', 'RFC 8176 amr values, e.g. ["hwk", "mfa"]')
    const acrAny = list('acrAny', 'acr values the IdP returns, e.g. ["phrh"]')
    const ageEntry = f.get('maxAuthAge')
    const maxAuthAgeMs = ageEntry ? this.duration(ageEntry, 'maxAuthAge', MAX_TTL_MS) : null
    if (!nameOk) return null
    if (mfa === null) return placeholder
    return { name: entry.key, at: this.site(entry.keyNode, entry.path), mfa, amrAny, acrAny, maxAuthAgeMs }
  }

  grant(node: SyntaxNode, path: string): GrantSpec | null {
    const keys = ['src', 'dst', 'assurance', 'ttl', 'onUnmet'] as const
    const f = this.fields(node, path, keys, 'grant', ['src', 'dst'])
    if (f === null) return null
    const srcEntry = f.get('src')
    const dstEntry = f.get('dst')
    const src = srcEntry ? this.members(srcEntry.value, srcEntry.path) : []
    const dst = dstEntry
      ? this.strings(dstEntry.value, dstEntry.path).flatMap(
          (item) => this.destination(item, 'destination') ?? [],
        )
      : []
    const assuranceEntry = f.get('assurance')
    let assurance: Located<string> | null = null
    if (assuranceEntry) {
      const name = this.string(assuranceEntry.value, assuranceEntry.path)
      if (name !== null) assurance = { value: name, at: this.site(assuranceEntry.value, assuranceEntry.path) }
    }
    const ttlEntry = f.get('ttl')
    const ttlMs = ttlEntry ? this.duration(ttlEntry, 'ttl', MAX_TTL_MS) : null
    const onUnmetEntry = f.get('onUnmet')
    let onUnmet: GrantSpec['onUnmet'] = 'deny'
    if (onUnmetEntry) {
      const value = this.string(onUnmetEntry.value, onUnmetEntry.path)
      if (value === 'deny' || value === 'stepUp') onUnmet = value
      else if (value !== null) {
        this.sink.error(
          this.site(onUnmetEntry.value, onUnmetEntry.path),
          'INVALID_VALUE',
          `onUnmet "${value}" is unknown`,
          'use "deny" or "stepUp"',
        )
      }
      if (value === 'stepUp' && !assuranceEntry) {
        this.sink.warning(
          this.site(onUnmetEntry.value, onUnmetEntry.path),
          'STEP_UP_WITHOUT_ASSURANCE',
          'onUnmet has no effect on a grant without an assurance level',
          'add "assurance" or remove "onUnmet"',
        )
      }
    }
    return { id: path, at: this.site(node, path), src, dst, assurance, ttlMs, onUnmet }
  }

  denyRule(node: SyntaxNode, path: string): DenySpec | null {
    const f = this.fields(node, path, ['src'], 'deny rule', ['src'])
    if (f === null) return null
    const srcEntry = f.get('src')
    return {
      id: path,
      at: this.site(node, path),
      src: srcEntry ? this.members(srcEntry.value, srcEntry.path) : [],
    }
  }

  test(node: SyntaxNode, path: string): PolicyTestSpec | null {
    const keys = [
      'user',
      'idp',
      'groups',
      'amr',
      'acr',
      'authAge',
      'verdict',
      'stepUp',
      'gateways',
      'expect',
    ] as const
    const f = this.fields(node, path, keys, 'test', ['user', 'expect'])
    if (f === null) return null
    let ok = true
    const str = (key: string): string | null => {
      const e = f.get(key)
      if (!e) return null
      const v = this.string(e.value, e.path)
      if (v === null) ok = false
      return v
    }
    const strs = (key: string): string[] | null => {
      const e = f.get(key)
      return e ? this.strings(e.value, e.path).map((i) => i.value) : null
    }
    const user = str('user')
    const userEntry = f.get('user')
    if (user !== null && userEntry && !parseMember(`user:${user}`).ok) {
      this.sink.error(
        this.site(userEntry.value, userEntry.path),
        'INVALID_VALUE',
        `"${user}" is not an email address`,
        'tests name the user by email',
      )
      ok = false
    }
    const verdict = str('verdict')
    const verdictEntry = f.get('verdict')
    if (verdict !== null && verdictEntry && !isVerdict(verdict)) {
      this.sink.error(
        this.site(verdictEntry.value, verdictEntry.path),
        'INVALID_VALUE',
        `verdict "${verdict}" is unknown`,
        'use "mfa", "single" or "unknown"',
      )
      ok = false
    }
    const stepUp = str('stepUp')
    const stepUpEntry = f.get('stepUp')
    if (stepUp !== null && stepUpEntry && parseStepUp(stepUp) === null) {
      this.sink.error(
        this.site(stepUpEntry.value, stepUpEntry.path),
        'INVALID_VALUE',
        `stepUp "${stepUp}" is unknown`,
        `use one of ${STEP_UP_TOKENS.map((t) => `"${t}"`).join(', ')}`,
      )
      ok = false
    }
    let authAgeMs: number | null = 0
    const ageEntry = f.get('authAge')
    if (ageEntry) {
      if (ageEntry.value.type === 'null') authAgeMs = null
      // Zero, in any unit, is a sign-in at the test's instant; every other duration must be positive.
      else if (ageEntry.value.type === 'string' && parseDuration(ageEntry.value.value) === 0) authAgeMs = 0
      else {
        authAgeMs = this.duration(ageEntry, 'authAge')
        if (authAgeMs === null) ok = false
      }
    }
    const expectEntry = f.get('expect')
    const expect = expectEntry ? this.expectation(expectEntry) : null
    const idp = str('idp') ?? 'test'
    // Read before giving up on the test, so one load reports every wrong field, not only the first ones.
    const groups = strs('groups') ?? []
    const amr = strs('amr') ?? []
    const acr = str('acr')
    const gateways = strs('gateways')
    if (!ok || user === null || expect === null) return null
    return {
      id: path,
      at: this.site(node, path),
      user,
      idp,
      groups,
      amr,
      acr,
      authAgeMs,
      verdict: verdict as Verdict | null,
      stepUp,
      gateways,
      expect,
    }
  }

  expectation(entry: Entry): PolicyTestExpectation | null {
    const f = this.fields(entry.value, entry.path, ['allow', 'ttl', 'deny', 'stepUp'], 'test expectation')
    if (f === null) return null
    const at = this.site(entry.value, entry.path)
    const allowEntry = f.get('allow')
    const denyEntry = f.get('deny')
    if ((allowEntry === undefined) === (denyEntry === undefined)) {
      this.sink.error(
        at,
        'INVALID_TEST',
        'a test expects either "allow" or "deny"',
        'e.g. "expect": { "allow": ["eu-1:prod"] } or { "deny": "NO_MATCHING_GRANT" }',
      )
      return null
    }
    const allow = allowEntry
      ? this.strings(allowEntry.value, allowEntry.path).flatMap(
          (item) => this.destination(item, 'GATEWAY:ROUTE') ?? [],
        )
      : null
    let deny: string | null = null
    if (denyEntry) {
      deny = this.string(denyEntry.value, denyEntry.path)
      if (deny !== null && !(DENIAL_CODES as readonly string[]).includes(deny)) {
        this.sink.error(
          this.site(denyEntry.value, denyEntry.path),
          'INVALID_VALUE',
          `"${deny}" is not a denial code`,
          `use one of ${DENIAL_CODES.join(', ')}`,
        )
        deny = null
      }
      if (deny === null) return null
    }
    const ttlEntry = f.get('ttl')
    const ttlMs = ttlEntry ? this.duration(ttlEntry, 'ttl') : null
    if (ttlEntry && ttlMs === null) return null
    if (ttlEntry && denyEntry) {
      this.sink.error(
        this.site(ttlEntry.keyNode, ttlEntry.path),
        'INVALID_TEST',
        'a denial has no ttl',
        'remove "ttl" or expect "allow"',
      )
      return null
    }
    const stepUpEntry = f.get('stepUp')
    let stepUp: Located<string> | null = null
    if (stepUpEntry) {
      const name = this.string(stepUpEntry.value, stepUpEntry.path)
      if (name === null) return null
      if (deny !== 'ASSURANCE_UNMET') {
        this.sink.error(
          this.site(stepUpEntry.keyNode, stepUpEntry.path),
          'INVALID_TEST',
          'only an ASSURANCE_UNMET denial carries a step-up demand',
          'expect { "deny": "ASSURANCE_UNMET", "stepUp": LEVEL }',
        )
        return null
      }
      stepUp = { value: name, at: this.site(stepUpEntry.value, stepUpEntry.path) }
    }
    return { at, allow, ttlMs, deny, stepUp }
  }
}
