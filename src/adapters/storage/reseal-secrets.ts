/**
 * Re-sealing every secret at rest under the current KEYGATE_SECRET after a rotation: the preshared keys
 * of unended leases and of the gateway feed, and the TOTP secrets of step-up factors. Each value a
 * previous secret sealed is opened and sealed again; the write is conditional on the old value, so a
 * concurrent change wins and nothing is sealed twice. Values no secret of the keyring opens are counted,
 * never dropped: the operator decides (restore the secret, or let those leases end).
 */
import { sql } from 'drizzle-orm'
import { textOf } from './row-values.ts'
import type { SqlRunner } from './sql-runner.ts'

export interface ResealOutcome {
  /** Values sealed again under the current secret. */
  resealed: number
  /** Values no secret of the keyring opens (sealed with a secret not in KEYGATE_SECRET_PREVIOUS, or altered). */
  unreadable: number
}

const TARGETS = [
  { table: 'leases', column: 'preshared_key_ciphertext', where: 'ended_at IS NULL' },
  {
    table: 'gateway_feed_entries',
    column: 'preshared_key_ciphertext',
    where: 'preshared_key_ciphertext IS NOT NULL',
  },
  { table: 'totp_factors', column: 'secret_ciphertext', where: 'true' },
] as const

export async function resealSecrets(
  runner: SqlRunner,
  reseal: (ciphertext: string) => Promise<string | null>,
): Promise<ResealOutcome> {
  const outcome: ResealOutcome = { resealed: 0, unreadable: 0 }
  for (const target of TARGETS) {
    const table = sql.identifier(target.table)
    const column = sql.identifier(target.column)
    // Distinct values: a preshared key appears in its lease and in each of its feed entries.
    const rows = await runner.rows(
      sql`SELECT DISTINCT ${column} AS value FROM ${table} WHERE ${sql.raw(target.where)}`,
    )
    for (const row of rows) {
      const old = textOf(row, 'value')
      let next: string | null
      try {
        next = await reseal(old)
      } catch {
        outcome.unreadable += 1
        continue
      }
      if (next === null) continue
      await runner.rows(sql`UPDATE ${table} SET ${column} = ${next} WHERE ${column} = ${old}`)
      outcome.resealed += 1
    }
  }
  return outcome
}
