/**
 * Tables of Keygate's own second factors (TOTP apps, WebAuthn credentials) and of failed attempts.
 *
 * Every factor hangs off an identity row, which is keyed on (issuer, subject): a factor is never shared
 * by two accounts that happen to have the same email. The TOTP secret is stored only as SecretSealer
 * ciphertext. The replay record is the factor's last accepted time step, moved forward by a conditional
 * UPDATE, so two concurrent uses of one code cannot both succeed. Attempts are rows per identity, written
 * before the code is checked (under a lock on the identity row) and deleted again on success, counted over
 * a sliding window for the attempt limit and pruned as they age out. Enrolment codes are kept as hashes.
 */
import { bigint, boolean, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { identities } from './schema.ts'

const time = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

export const totpFactors = pgTable(
  'totp_factors',
  {
    id: text('id').primaryKey(),
    identityId: uuid('identity_id')
      .notNull()
      .references(() => identities.id, { onDelete: 'cascade' }),
    label: text('label').notNull(),
    secretCiphertext: text('secret_ciphertext').notNull(),
    confirmedAt: time('confirmed_at'),
    lastUsedStep: bigint('last_used_step', { mode: 'number' }),
    /** Enrolled during an IdP-MFA session: may stand in for the IdP's MFA (administration). */
    anchored: boolean('anchored').notNull().default(false),
    createdAt: time('created_at').notNull(),
  },
  (t) => [index('totp_factors_identity').on(t.identityId)],
)

export const webauthnCredentials = pgTable(
  'webauthn_credentials',
  {
    /** The credential id as the authenticator made it, base64url. */
    id: text('id').primaryKey(),
    identityId: uuid('identity_id')
      .notNull()
      .references(() => identities.id, { onDelete: 'cascade' }),
    label: text('label').notNull(),
    /** COSE public key, base64url (text keeps both drivers' byte handling out of the way). */
    publicKey: text('public_key').notNull(),
    counter: bigint('counter', { mode: 'number' }).notNull(),
    transports: jsonb('transports').$type<string[]>().notNull().default([]),
    /** The amr a use proves: 'hwk' only after a trusted attestation from an allowed AAGUID, else 'swk'. */
    amr: text('amr').$type<'hwk' | 'swk'>().notNull().default('swk'),
    anchored: boolean('anchored').notNull().default(false),
    createdAt: time('created_at').notNull(),
    lastUsedAt: time('last_used_at'),
  },
  (t) => [index('webauthn_credentials_identity').on(t.identityId)],
)

export const stepUpFailures = pgTable(
  'step_up_failures',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    identityId: uuid('identity_id')
      .notNull()
      .references(() => identities.id, { onDelete: 'cascade' }),
    at: time('at').notNull(),
  },
  (t) => [index('step_up_failures_identity_at').on(t.identityId, t.at)],
)

export const enrolmentCodes = pgTable(
  'step_up_enrolment_codes',
  {
    /** SHA-256 of the code, hex: the code itself is shown once to the admin and never stored. */
    codeHash: text('code_hash').primaryKey(),
    identityId: uuid('identity_id')
      .notNull()
      .references(() => identities.id, { onDelete: 'cascade' }),
    createdBy: text('created_by').notNull(),
    createdAt: time('created_at').notNull(),
    expiresAt: time('expires_at').notNull(),
    usedAt: time('used_at'),
  },
  (t) => [index('step_up_enrolment_codes_identity').on(t.identityId)],
)
