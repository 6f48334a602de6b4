// Policy engine benchmark: load+compile time and decision latency for a large generated policy
// (1,000 grants, 200 groups, 5,000 users). Goals (issue 3): median decision < 10 µs, load < 200 ms.
// `npm exec -- tsx bench/policy-bench.ts` prints the figures as JSON; bench/run.ts imports benchPolicy.
import type { Subject } from '../src/core/model.ts'
import { evaluatePolicy, loadPolicy } from '../src/core/policy/index.ts'

const GRANTS = 1_000
const GROUPS = 200
const USERS = 5_000
const GATEWAYS = 20
const ROUTES_PER_GATEWAY = 5
const NOW = 1_800_000_000_000

/** Deterministic, so every run measures the same policy and the same requests. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

const email = (i: number) => `user${i}@corp${i % 5}.example`

export function generateLargePolicy(): string {
  const rand = prng(42)
  const pick = (n: number) => Math.floor(rand() * n)
  const gateways = Array.from({ length: GATEWAYS }, (_, g) => {
    const routes = Array.from(
      { length: ROUTES_PER_GATEWAY },
      (_, r) => `"r${r}": ["10.${g}.${r * 16}.0/20"]`,
    ).join(', ')
    return `    "gw-${g}": { "endpoint": "gw-${g}.vpn.example.com:51820", "routes": { ${routes} } }`
  })
  // Every user is in one group by email; groups also take an IdP group, and every tenth nests the next.
  const groups = Array.from({ length: GROUPS }, (_, i) => {
    const members = [`"idp:*:team-${i}"`]
    for (let u = i; u < USERS; u += GROUPS) members.push(`"user:${email(u)}"`)
    if (i % 10 === 0 && i + 1 < GROUPS) members.push(`"group:g${i + 1}"`)
    return `    "group:g${i}": [${members.join(', ')}]`
  })
  const grants = Array.from({ length: GRANTS }, (_, i) => {
    const src = [`"group:g${i % GROUPS}"`]
    if (i % 7 === 0) src.push(`"user:${email(pick(USERS))}"`)
    if (i % 50 === 0) src.push(`"domain:corp${i % 5}.example"`)
    const dst = [`"gw-${pick(GATEWAYS)}:r${pick(ROUTES_PER_GATEWAY)}"`, `"gw-${pick(GATEWAYS)}:*"`]
    const assurance =
      i % 3 === 0 ? ', "assurance": "mfa"' : i % 3 === 1 ? ', "assurance": "fresh", "onUnmet": "stepUp"' : ''
    return `    { "src": [${src.join(', ')}], "dst": [${dst.join(', ')}]${assurance}, "ttl": "${1 + (i % 12)}h" }`
  })
  const deny = Array.from({ length: 10 }, (_, i) => `"user:${email(i * 499)}"`)
  return `{
  "network": { "ipv4": "100.96.0.0/16", "ipv6": "fd7a:115c:a1e0::/64" },
  "gateways": {
${gateways.join(',\n')},
  },
  "groups": {
${groups.join(',\n')},
  },
  "assurance": {
    "mfa": { "mfa": true, "maxAuthAge": "12h" },
    "fresh": { "mfa": true, "maxAuthAge": "1h" },
  },
  "grants": [
${grants.join(',\n')},
  ],
  "deny": [ { "src": [${deny.join(', ')}] } ],
  "admins": ["user:${email(0)}"],
}
`
}

function subjects(count: number): Subject[] {
  const rand = prng(7)
  return Array.from({ length: count }, () => {
    const u = Math.floor(rand() * USERS)
    const mfa = rand() < 0.8
    return {
      idpId: 'okta',
      issuer: 'https://okta.example',
      subject: `sub-${u}`,
      email: email(u),
      groups: [`team-${Math.floor(rand() * GROUPS)}`, 'everyone', 'vpn-users'],
      auth: {
        verdict: mfa ? 'mfa' : 'single',
        amr: mfa ? ['pwd', 'otp'] : ['pwd'],
        acr: null,
        acrs: [],
        authTime: Math.floor(NOW / 1000) - Math.floor(rand() * 7200),
        stepUp: null,
      },
    }
  })
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

function median(values: number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  )
}

export async function benchPolicy(): Promise<Record<string, unknown>> {
  const source = generateLargePolicy()

  const loadMs: number[] = []
  let policy = null
  for (let run = 0; run < 7; run++) {
    const start = process.hrtime.bigint()
    const result = loadPolicy(source, 'bench.hujson')
    loadMs.push(Number(process.hrtime.bigint() - start) / 1e6)
    if (!result.ok) throw new Error(`generated policy is invalid: ${result.errors[0]?.message}`)
    policy = result.policy
  }
  if (policy === null) throw new Error('unreachable')

  const requests = subjects(20_000)
  for (const subject of requests) evaluatePolicy(policy, { subject }, NOW)

  const timings: number[] = []
  let allowed = 0
  let matched = 0
  for (let round = 0; round < 5; round++) {
    for (const subject of requests) {
      const start = process.hrtime.bigint()
      const decision = evaluatePolicy(policy, { subject }, NOW)
      timings.push(Number(process.hrtime.bigint() - start) / 1e3)
      if (decision.allow) {
        allowed++
        matched += decision.matchedGrants.length
      }
    }
  }
  timings.sort((a, b) => a - b)

  const batchStart = process.hrtime.bigint()
  for (const subject of requests) evaluatePolicy(policy, { subject }, NOW)
  const batchUs = Number(process.hrtime.bigint() - batchStart) / 1e3

  return {
    policy: { grants: GRANTS, groups: GROUPS, users: USERS, gateways: GATEWAYS, sourceBytes: source.length },
    // The first load runs cold (JIT); a server pays it once at start-up, a reload pays the warm figure.
    loadFirstMs: Number(loadMs[0]!.toFixed(1)),
    loadMedianMs: Number(median(loadMs).toFixed(1)),
    loadRunsMs: loadMs.map((ms) => Number(ms.toFixed(1))),
    decisions: timings.length,
    decisionP50Us: Number(quantile(timings, 0.5).toFixed(2)),
    decisionP99Us: Number(quantile(timings, 0.99).toFixed(2)),
    decisionMeanUsBatch: Number((batchUs / requests.length).toFixed(2)),
    allowedShare: Number((allowed / timings.length).toFixed(3)),
    meanGrantsPerAllow: Number((matched / Math.max(1, allowed)).toFixed(1)),
    goals: { decisionP50Us: 10, loadMs: 200 },
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchPolicy(), null, 2))
}
