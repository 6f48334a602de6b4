/**
 * What an IdP provisions through SCIM: its bearer token (hash only), users, groups and memberships, and
 * the link from a SCIM user to the Keygate identity that signs in as that person.
 *
 * Every lookup is scoped to one IdP: a token for Okta never reads or writes Entra's records. Group
 * membership is replaced whole inside one transaction (SCIM PATCH is applied to the full resource first).
 */
import { and, eq, inArray, isNotNull, isNull, notInArray, sql } from 'drizzle-orm'
import type { Identity, ScimGroup, ScimUser } from '../../core/model.ts'
import type { NewScimGroup, NewScimUser } from '../../core/ports.ts'
import type { Db } from './db.ts'
import { isUuid } from './row-values.ts'
import { scimGroupMembers, scimGroups, scimTokens, scimUsers } from './schema-lifecycle.ts'

function userFromRow(row: typeof scimUsers.$inferSelect): ScimUser {
  return {
    id: row.id,
    idpId: row.idpId,
    userName: row.userName,
    externalId: row.externalId,
    active: row.active && row.deletedAt === null,
    resource: row.resource,
    identityId: row.identityId,
    createdAt: row.createdAt.getTime(),
    updatedAt: row.updatedAt.getTime(),
  }
}

export function createScimStore(options: { db: Db; newId: () => string }) {
  const { db, newId } = options

  async function setScimToken(idpId: string, tokenHash: string, now: number): Promise<void> {
    await db
      .insert(scimTokens)
      .values({ idpId, tokenHash, createdAt: new Date(now) })
      .onConflictDoUpdate({ target: scimTokens.idpId, set: { tokenHash, createdAt: new Date(now) } })
  }

  async function findScimTokenIdp(tokenHash: string): Promise<string | null> {
    const [row] = await db.select().from(scimTokens).where(eq(scimTokens.tokenHash, tokenHash))
    return row?.idpId ?? null
  }

  /** An identity of this IdP that is this SCIM user: `sub` = externalId, or verified email = userName. */
  async function matchingIdentity(input: NewScimUser): Promise<string | null> {
    const rows = await db.execute<{ id: string }>(sql`SELECT id FROM identities WHERE idp_id = ${input.idpId}
      AND (subject = ${input.externalId ?? ''} OR (email_verified AND lower(email) = lower(${input.userName})))
      ORDER BY (subject = ${input.externalId ?? ''}) DESC LIMIT 1`)
    const list = (Array.isArray(rows) ? rows : (rows as { rows: { id: string }[] }).rows) as { id: string }[]
    return list[0]?.id ?? null
  }

  async function createScimUser(input: NewScimUser, now: number): Promise<ScimUser> {
    // A userName the IdP deleted and now provisions again starts afresh.
    await db
      .delete(scimUsers)
      .where(
        and(
          eq(scimUsers.idpId, input.idpId),
          isNotNull(scimUsers.deletedAt),
          sql`lower(${scimUsers.userName}) = lower(${input.userName})`,
        ),
      )
    const identityId = await matchingIdentity(input)
    const [row] = await db
      .insert(scimUsers)
      .values({ id: newId(), ...input, identityId, createdAt: new Date(now), updatedAt: new Date(now) })
      .returning()
    return userFromRow(row!)
  }

  async function getScimUser(idpId: string, id: string): Promise<ScimUser | null> {
    if (!isUuid(id)) return null
    const [row] = await db
      .select()
      .from(scimUsers)
      .where(and(eq(scimUsers.idpId, idpId), eq(scimUsers.id, id), isNull(scimUsers.deletedAt)))
    return row === undefined ? null : userFromRow(row)
  }

  async function listScimUsers(idpId: string, filter: { userName?: string }): Promise<ScimUser[]> {
    const rows = await db
      .select()
      .from(scimUsers)
      .where(
        and(
          eq(scimUsers.idpId, idpId),
          isNull(scimUsers.deletedAt),
          filter.userName === undefined
            ? undefined
            : sql`lower(${scimUsers.userName}) = lower(${filter.userName})`,
        ),
      )
      .orderBy(scimUsers.createdAt, scimUsers.id)
    return rows.map(userFromRow)
  }

  async function replaceScimUser(
    idpId: string,
    id: string,
    input: NewScimUser,
    now: number,
  ): Promise<ScimUser | null> {
    if (!isUuid(id)) return null
    const [row] = await db
      .update(scimUsers)
      .set({
        userName: input.userName,
        externalId: input.externalId,
        active: input.active,
        resource: input.resource,
        updatedAt: new Date(now),
        identityId: sql`coalesce(${scimUsers.identityId}, ${await matchingIdentity(input)}::uuid)`,
      })
      .where(and(eq(scimUsers.idpId, idpId), eq(scimUsers.id, id), isNull(scimUsers.deletedAt)))
      .returning()
    return row === undefined ? null : userFromRow(row)
  }

  async function deleteScimUser(idpId: string, id: string): Promise<ScimUser | null> {
    if (!isUuid(id)) return null
    return db.transaction(async (tx) => {
      const [row] = await tx
        .update(scimUsers)
        .set({ deletedAt: sql`now()`, active: false })
        .where(and(eq(scimUsers.idpId, idpId), eq(scimUsers.id, id), isNull(scimUsers.deletedAt)))
        .returning()
      if (row === undefined) return null
      await tx.delete(scimGroupMembers).where(eq(scimGroupMembers.userId, id))
      return userFromRow(row)
    })
  }

  async function linkScimUser(identity: Identity, verifiedEmail: string | null): Promise<ScimUser | null> {
    const [linked] = await db.select().from(scimUsers).where(eq(scimUsers.identityId, identity.id))
    if (linked !== undefined) return userFromRow(linked)
    const [row] = await db
      .update(scimUsers)
      .set({ identityId: identity.id })
      .where(
        sql`${scimUsers.id} = (SELECT id FROM scim_users WHERE idp_id = ${identity.idpId} AND identity_id IS NULL
          AND (external_id = ${identity.subject} OR lower(user_name) = lower(${verifiedEmail ?? ''}))
          ORDER BY (external_id = ${identity.subject}) DESC LIMIT 1)`,
      )
      .returning()
    return row === undefined ? null : userFromRow(row)
  }

  async function groupWithMembers(row: typeof scimGroups.$inferSelect, tx: Db = db): Promise<ScimGroup> {
    const members = await tx
      .select({ userId: scimGroupMembers.userId })
      .from(scimGroupMembers)
      .where(eq(scimGroupMembers.groupId, row.id))
    return {
      id: row.id,
      idpId: row.idpId,
      displayName: row.displayName,
      externalId: row.externalId,
      members: members.map((m) => m.userId).sort(),
      createdAt: row.createdAt.getTime(),
      updatedAt: row.updatedAt.getTime(),
    }
  }

  /** Only users of the same IdP can be members; unknown ids are dropped by the caller's check first. */
  async function knownMembers(tx: Db, idpId: string, members: string[]): Promise<string[]> {
    const ids = [...new Set(members.filter(isUuid))]
    if (ids.length === 0) return []
    const rows = await tx
      .select({ id: scimUsers.id })
      .from(scimUsers)
      .where(and(eq(scimUsers.idpId, idpId), inArray(scimUsers.id, ids), isNull(scimUsers.deletedAt)))
    return rows.map((r) => r.id)
  }

  async function createScimGroup(input: NewScimGroup, now: number): Promise<ScimGroup> {
    return db.transaction(async (tx) => {
      const [row] = await tx
        .insert(scimGroups)
        .values({
          id: newId(),
          idpId: input.idpId,
          displayName: input.displayName,
          externalId: input.externalId,
          createdAt: new Date(now),
          updatedAt: new Date(now),
        })
        .returning()
      const members = await knownMembers(tx as unknown as Db, input.idpId, input.members)
      if (members.length > 0)
        await tx.insert(scimGroupMembers).values(members.map((userId) => ({ groupId: row!.id, userId })))
      return groupWithMembers(row!, tx as unknown as Db)
    })
  }

  async function getScimGroup(idpId: string, id: string): Promise<ScimGroup | null> {
    if (!isUuid(id)) return null
    const [row] = await db
      .select()
      .from(scimGroups)
      .where(and(eq(scimGroups.idpId, idpId), eq(scimGroups.id, id)))
    return row === undefined ? null : groupWithMembers(row)
  }

  async function listScimGroups(
    idpId: string,
    filter: { displayName?: string; memberId?: string },
  ): Promise<ScimGroup[]> {
    if (filter.memberId !== undefined && !isUuid(filter.memberId)) return []
    const rows = await db
      .select()
      .from(scimGroups)
      .where(
        and(
          eq(scimGroups.idpId, idpId),
          filter.displayName === undefined ? undefined : eq(scimGroups.displayName, filter.displayName),
          filter.memberId === undefined
            ? undefined
            : sql`${scimGroups.id} IN (SELECT group_id FROM scim_group_members WHERE user_id = ${filter.memberId}::uuid)`,
        ),
      )
      .orderBy(scimGroups.createdAt, scimGroups.id)
    return Promise.all(rows.map((row) => groupWithMembers(row)))
  }

  async function replaceScimGroup(
    idpId: string,
    id: string,
    input: NewScimGroup,
    now: number,
  ): Promise<ScimGroup | null> {
    if (!isUuid(id)) return null
    return db.transaction(async (tx) => {
      const [row] = await tx
        .update(scimGroups)
        .set({ displayName: input.displayName, externalId: input.externalId, updatedAt: new Date(now) })
        .where(and(eq(scimGroups.idpId, idpId), eq(scimGroups.id, id)))
        .returning()
      if (row === undefined) return null
      const members = await knownMembers(tx as unknown as Db, idpId, input.members)
      await tx
        .delete(scimGroupMembers)
        .where(
          and(
            eq(scimGroupMembers.groupId, id),
            members.length === 0 ? undefined : notInArray(scimGroupMembers.userId, members),
          ),
        )
      if (members.length > 0)
        await tx
          .insert(scimGroupMembers)
          .values(members.map((userId) => ({ groupId: id, userId })))
          .onConflictDoNothing()
      return groupWithMembers(row, tx as unknown as Db)
    })
  }

  async function deleteScimGroup(idpId: string, id: string): Promise<ScimGroup | null> {
    const group = await getScimGroup(idpId, id)
    if (group === null) return null
    await db.delete(scimGroups).where(and(eq(scimGroups.idpId, idpId), eq(scimGroups.id, id)))
    return group
  }

  return {
    setScimToken,
    findScimTokenIdp,
    createScimUser,
    getScimUser,
    listScimUsers,
    replaceScimUser,
    deleteScimUser,
    linkScimUser,
    createScimGroup,
    getScimGroup,
    listScimGroups,
    replaceScimGroup,
    deleteScimGroup,
  }
}
