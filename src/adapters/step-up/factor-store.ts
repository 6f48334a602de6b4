/**
 * The FactorStore port on drizzle, over the tables of storage/schema-factors.ts; either driver's
 * database works (the same `Db` the main store is written against).
 */
import { and, asc, count, eq, gt, isNull, lt, or, sql } from 'drizzle-orm'
import type { FactorStore, TotpFactor, WebAuthnCredentialRecord } from '../../core/step-up/index.ts'
import type { Db } from '../storage/db.ts'
import { identities } from '../storage/schema.ts'
import {
  enrolmentCodes,
  stepUpFailures,
  totpFactors,
  webauthnCredentials,
} from '../storage/schema-factors.ts'

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
    anchored: row.anchored,
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
    amr: row.amr === 'hwk' ? 'hwk' : 'swk',
    anchored: row.anchored,
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
        amr: record.amr,
        anchored: record.anchored,
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

    async reserveAttempt(identityId, now, windowStart, maxAttempts) {
      return db.transaction(async (tx) => {
        // The identity row's lock serialises one identity's attempts (on PostgreSQL across connections and
        // replicas; PGlite runs one transaction at a time anyway): the count below sees every attempt
        // reserved before it, so no two requests both see "4 of 5" and both go on to check a code.
        const [identity] = await tx
          .select({ id: identities.id })
          .from(identities)
          .where(eq(identities.id, identityId))
          .for('update')
        if (identity === undefined) return { reserved: false, failureTimes: [] }
        // Rows older than the window are never needed again: drop them on the way.
        await tx
          .delete(stepUpFailures)
          .where(and(eq(stepUpFailures.identityId, identityId), lt(stepUpFailures.at, new Date(windowStart))))
        const rows = await tx
          .select({ at: stepUpFailures.at })
          .from(stepUpFailures)
          .where(and(eq(stepUpFailures.identityId, identityId), gt(stepUpFailures.at, new Date(windowStart))))
        if (rows.length >= maxAttempts)
          return { reserved: false, failureTimes: rows.map((r) => r.at.getTime()) }
        const [row] = await tx
          .insert(stepUpFailures)
          .values({ identityId, at: new Date(now) })
          .returning({ id: stepUpFailures.id })
        return { reserved: true, attemptId: String(row!.id) }
      })
    },

    async releaseAttempt(attemptId) {
      await db.delete(stepUpFailures).where(eq(stepUpFailures.id, Number(attemptId)))
    },

    async createEnrolmentCode(input, now) {
      await db.insert(enrolmentCodes).values({
        codeHash: input.codeHash,
        identityId: input.identityId,
        createdBy: input.createdBy,
        createdAt: new Date(now),
        expiresAt: new Date(input.expiresAt),
      })
    },

    async hasEnrolmentCode(identityId, codeHash, now) {
      const [row] = await db
        .select({ n: count() })
        .from(enrolmentCodes)
        .where(usableCode(identityId, codeHash, now))
      return (row?.n ?? 0) > 0
    },

    async consumeEnrolmentCode(identityId, codeHash, now) {
      // The condition is the single-use rule, checked under the UPDATE's row lock.
      const rows = await db
        .update(enrolmentCodes)
        .set({ usedAt: new Date(now) })
        .where(usableCode(identityId, codeHash, now))
        .returning({ codeHash: enrolmentCodes.codeHash })
      return rows.length === 1
    },
  }
}

function usableCode(identityId: string, codeHash: string, now: number) {
  return and(
    eq(enrolmentCodes.codeHash, codeHash),
    eq(enrolmentCodes.identityId, identityId),
    isNull(enrolmentCodes.usedAt),
    gt(enrolmentCodes.expiresAt, new Date(now)),
  )
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
