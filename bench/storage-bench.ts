// Storage throughput on PostgreSQL: the floor ("bare transaction") and the store's own issuance.
//
// The bare transaction is the least any issuance must do: bump a gateway's feed counter, insert a lease
// row and insert an audit row, in one transaction through postgres.js, from several connections at once.
// The main bench reports the broker's issuance rate as a ratio to it. `benchStoreIssuance` measures the
// Store's issueLease alone (address allocation, lease, audit, feed entry: one statement), which is what
// the broker adds HTTP, policy and crypto to.
//
// Run alone: `npm exec -- tsx bench/storage-bench.ts [seconds per run]` (creates and drops a scratch database on
// KEYGATE_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres).
import { randomBytes, randomUUID } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import postgres from 'postgres'
import { openDatabase } from '../src/adapters/storage/open-database.ts'
import type { IssueLeaseInput } from '../src/core/ports.ts'
import { mfaAuth } from './bench-session.ts'

export interface BenchOptions {
  /** Concurrent connections (bare) or in-flight calls (store). Default 12. */
  clients?: number
}

async function ensureIdentity(sql: postgres.Sql): Promise<string> {
  const [row] = await sql`
    INSERT INTO identities (id, idp_id, issuer, subject, created_at, last_login_at)
    VALUES (${randomUUID()}, 'bench', 'https://bench.invalid', 'bench', now(), now())
    ON CONFLICT (issuer, subject) DO UPDATE SET last_login_at = excluded.last_login_at
    RETURNING id`
  return row!.id as string
}

async function runFor(seconds: number, clients: number, once: () => Promise<void>): Promise<number> {
  const deadline = performance.now() + seconds * 1000
  let done = 0
  const start = performance.now()
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        await once()
        done++
      }
    }),
  )
  return done / ((performance.now() - start) / 1000)
}

/** Transactions per second of the bare issuance-shaped transaction on a migrated Keygate database. */
export async function benchBareTransaction(
  databaseUrl: string,
  seconds: number,
  options: BenchOptions = {},
): Promise<number> {
  const clients = options.clients ?? 12
  const sql = postgres(databaseUrl, { max: clients, onnotice: () => {} })
  try {
    const identityId = await ensureIdentity(sql)
    let n = 0
    return await runFor(seconds, clients, async () => {
      const id = randomUUID()
      const i = n++
      await sql.begin(async (tx) => {
        await tx`
          INSERT INTO gateway_feeds AS f (gateway, version) VALUES ('bench-bare', 1)
          ON CONFLICT (gateway) DO UPDATE SET version = f.version + 1`
        await tx`
          INSERT INTO leases (id, identity_id, public_key, address_v4, grants, preshared_key_ciphertext,
            created_at, expires_at, verdict, amr, acrs, policy_hash, matched_grants)
          VALUES (${id}, ${identityId}, ${`bare-${i}`}, ${`bare-${i}`}, '[{"gateway":"bench-bare","routes":[]}]',
            'sealed', now(), now() + interval '8 hours', 'mfa', '["pwd","otp"]', '[]', 'bench', '[]')`
        await tx`
          INSERT INTO audit_events (id, at, type, identity_id, lease_id, data)
          VALUES (${randomUUID()}, now(), 'lease.issued', ${identityId}, ${id}, '{}')`
      })
    })
  } finally {
    await sql.end()
  }
}

/** Issuances per second through the Store (allocation, lease, audit, one feed entry per gateway). */
export async function benchStoreIssuance(
  databaseUrl: string,
  seconds: number,
  options: BenchOptions & { gateways?: string[] } = {},
): Promise<number> {
  const clients = options.clients ?? 12
  const database = await openDatabase({ databaseUrl, poolSize: clients })
  try {
    const now = Date.now()
    // Leases spread over many people, as in use: each issuance also checks its owner's lease limit.
    const identities = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        database.store.upsertIdentity(
          {
            idpId: 'bench',
            issuer: 'https://bench.invalid',
            subject: `bench-store-${i}`,
            email: null,
            emailVerified: false,
            name: null,
            groups: [],
          },
          now,
        ),
      ),
    )
    let next = 0
    const input = (): IssueLeaseInput => {
      const identity = identities[next++ % identities.length]!
      return {
        identityId: identity.id,
        publicKey: randomBytes(32).toString('base64'),
        name: null,
        pool: { ipv4: '100.64.0.0/10', ipv6: 'fd7a:115c:a1e0::/64' },
        grants: (options.gateways ?? ['bench-a']).map((gateway) => ({ gateway, routes: ['10.0.0.0/8'] })),
        presharedKeyCiphertext: 'sealed',
        expiresAt: now + 8 * 3600_000,
        auth: mfaAuth(now),
        policyHash: 'bench',
        matchedGrants: ['g0'],
        maxLiveLeases: 1000,
        audit: {
          type: 'lease.issued',
          identityId: identity.id,
          leaseId: null,
          gatewayId: null,
          actor: 'bench',
          policyHash: 'bench',
          data: {},
        },
      }
    }
    return await runFor(seconds, clients, async () => {
      await database.store.issueLease(input(), Date.now())
    })
  } finally {
    await database.close()
  }
}

async function main() {
  const seconds = Number(process.argv[2] ?? 2)
  const admin = process.env.KEYGATE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const name = `keygate_bench_${randomBytes(4).toString('hex')}`
  const sql = postgres(admin, { max: 1, onnotice: () => {} })
  await sql.unsafe(`CREATE DATABASE ${name}`)
  const url = new URL(admin)
  url.pathname = `/${name}`
  try {
    const database = await openDatabase({ databaseUrl: url.toString() })
    await database.migrate()
    await database.close()
    // Short alternating runs, medians: these machines are shared and noisy, and alternating spreads the
    // noise over both measurements alike.
    const bare: number[] = []
    const store: number[] = []
    const twoGateways: number[] = []
    for (let round = 0; round < 7; round++) {
      bare.push(await benchBareTransaction(url.toString(), seconds))
      store.push(await benchStoreIssuance(url.toString(), seconds))
      twoGateways.push(
        await benchStoreIssuance(url.toString(), seconds, { gateways: ['bench-a', 'bench-b'] }),
      )
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
    const ratios = store.map((value, i) => value / bare[i]!)
    console.log(
      `bare transaction: median ${median(bare).toFixed(0)}/s  [${bare.map((v) => v.toFixed(0)).join(' ')}]`,
    )
    console.log(
      `store issueLease: median ${median(store).toFixed(0)}/s  [${store.map((v) => v.toFixed(0)).join(' ')}]`,
    )
    console.log(`  with 2 gateways: median ${median(twoGateways).toFixed(0)}/s`)
    console.log(`store / bare, median of per-round ratios: ${median(ratios).toFixed(2)}`)
  } finally {
    await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await sql.end()
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
