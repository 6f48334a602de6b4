/**
 * The FactorStore port on drizzle, over the tables of storage/schema-factors.ts; either driver's
 * database works (the same `Db` the main store is written against).
 */
import { and, asc, eq, gt, isNull, lt, or, sql } from 'drizzle-orm'
import type { FactorStore, TotpFactor, WebAuthnCredentialRecord } from '../../core/step-up/index.ts'
import type { Db } from '../storage/db.ts'
import { stepUpFailures, totpFactors, webauthnCredentials } from '../storage/schema-factors.ts'

type TotpRow = typeof totpFactors.$inferSelect
type CredentialRow = typeof webauthnCredentials.$inferSelect

function totpOf(row: TotpRow): TotpFactor {
  return {
    id: row.id,
    identityId: row.identityId,
    label: row.label,
    secretCiphertext: row.secretCiphertext,
    confirmedAt: row.confirmedAt?.getTime() ?? null,
    lastUsedStep: row.lastUsedStep === null ? null : Number(row.lastUsedStep),
    createdAt: row.createdAt.getTime(),
  }
}

function credentialOf(row: CredentialRow): WebAuthnCredentialRecord {
  return {
    id: row.id,
    identityId: row.identityId,
    label: row.label,
    publicKey: fromBase64Url(row.publicKey),
    counter: Number(row.counter),
    transports: row.transports,
    createdAt: row.createdAt.getTime(),
    lastUsedAt: row.lastUsedAt?.getTime() ?? null,
  }
}

export function createFactorStore(db: Db): FactorStore {
  return {
    async createTotpFactor(input, now) {
      const [row] = await db
        .insert(totpFactors)
        .values({ ...input, createdAt: new Date(now) })
        .returning()
      return totpOf(row!)
    },

    async getTotpFactor(id) {
      const [row] = await db.select().from(totpFactors).where(eq(totpFactors.id, id))
      return row === undefined ? null : totpOf(row)
    },

    async listTotpFactors(identityId) {
      const rows = await db
        .select()
        .from(totpFactors)
        .where(eq(totpFactors.identityId, identityId))
        .orderBy(asc(totpFactors.createdAt))
      return rows.map(totpOf)
    },

    async acceptTotpStep(id, step, now) {
      // The condition is the replay rule, evaluated under the row lock the UPDATE takes: of two requests
      // with the same code, exactly one sees the old step.
      const rows = await db
        .update(totpFactors)
        .set({
          lastUsedStep: step,
          confirmedAt: sql`coalesce(${totpFactors.confirmedAt}, ${new Date(now).toISOString()}::timestamptz)`,
        })
        .where(
          and(
            eq(totpFactors.id, id),
            or(isNull(totpFactors.lastUsedStep), lt(totpFactors.lastUsedStep, step)),
          ),
        )
        .returning({ id: totpFactors.id })
      return rows.length === 1
    },

    async deleteUnconfirmedTotp(identityId, before) {
      await db
        .delete(totpFactors)
        .where(
          and(
            eq(totpFactors.identityId, identityId),
            isNull(totpFactors.confirmedAt),
            lt(totpFactors.createdAt, new Date(before)),
          ),
        )
    },

    async addWebAuthnCredential(record) {
      await db.insert(webauthnCredentials).values({
        id: record.id,
        identityId: record.identityId,
        label: record.label,
        publicKey: toBase64Url(record.publicKey),
        counter: record.counter,
        transports: record.transports,
        createdAt: new Date(record.createdAt),
      })
    },

    async getWebAuthnCredential(id) {
      const [row] = await db.select().from(webauthnCredentials).where(eq(webauthnCredentials.id, id))
      return row === undefined ? null : credentialOf(row)
    },

    async listWebAuthnCredentials(identityId) {
      const rows = await db
        .select()
        .from(webauthnCredentials)
        .where(eq(webauthnCredentials.identityId, identityId))
        .orderBy(asc(webauthnCredentials.createdAt))
      return rows.map(credentialOf)
    },

    async touchWebAuthnCredential(id, counter, now) {
      await db
        .update(webauthnCredentials)
        .set({ counter, lastUsedAt: new Date(now) })
        .where(eq(webauthnCredentials.id, id))
    },

    async recordFailedAttempt(identityId, now) {
      await db.insert(stepUpFailures).values({ identityId, at: new Date(now) })
    },

    async failedAttemptsSince(identityId, since) {
      // Rows older than the window are never needed again: drop them on the way.
      await db
        .delete(stepUpFailures)
        .where(and(eq(stepUpFailures.identityId, identityId), lt(stepUpFailures.at, new Date(since))))
      const rows = await db
        .select({ at: stepUpFailures.at })
        .from(stepUpFailures)
        .where(and(eq(stepUpFailures.identityId, identityId), gt(stepUpFailures.at, new Date(since))))
      return rows.map((r) => r.at.getTime())
    },
  }
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}
