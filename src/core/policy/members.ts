/**
 * Members: the four ways a policy names people. `user:EMAIL` and `domain:DOMAIN` compare case-insensitively
 * (mail addresses do in practice); IdP group values are compared exactly, since IdPs use opaque ids.
 */

export type Member =
  | { kind: 'user'; email: string; text: string }
  | { kind: 'domain'; domain: string; text: string }
  | { kind: 'idp'; idp: string; group: string; text: string }
  | { kind: 'group'; name: string; text: string }

export type MemberParse = { ok: true; member: Member } | { ok: false; message: string; hint: string }

const MEMBER_FORMS = 'members are user:EMAIL, domain:DOMAIN, idp:IDP_ID:GROUP or group:NAME'
const DOMAIN =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/
const IDP_ID = /^(\*|[a-z0-9][a-z0-9_-]*)$/
export const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

/**
 * Case-folds an email address or domain with ASCII rules only. Unicode folding maps look-alikes onto
 * ASCII (the Kelvin sign U+212A lower-cases to "k"), so "\u212Aim@example.com", a different address an IdP
 * may verify for someone else, would match `user:kim@example.com`. Non-ASCII letters stay as they are,
 * so such an address matches only a member written with the same characters.
 */
export function foldEmail(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32))
}

export function parseMember(text: string): MemberParse {
  const colon = text.indexOf(':')
  const kind = colon < 0 ? '' : text.slice(0, colon)
  const rest = text.slice(colon + 1)
  switch (kind) {
    case 'user': {
      const email = foldEmail(rest)
      const at = email.lastIndexOf('@')
      if (at < 1 || !DOMAIN.test(email.slice(at + 1)) || /\s/.test(email)) {
        return {
          ok: false,
          message: `"${rest}" is not an email address`,
          hint: 'e.g. user:alice@example.com',
        }
      }
      return { ok: true, member: { kind: 'user', email, text } }
    }
    case 'domain': {
      const domain = foldEmail(rest)
      if (!DOMAIN.test(domain)) {
        return {
          ok: false,
          message: `"${rest}" is not a domain name`,
          hint: 'e.g. domain:example.com, without @',
        }
      }
      return { ok: true, member: { kind: 'domain', domain, text } }
    }
    case 'idp': {
      const second = rest.indexOf(':')
      const idp = second < 0 ? '' : rest.slice(0, second)
      const group = second < 0 ? '' : rest.slice(second + 1)
      if (!IDP_ID.test(idp) || group === '') {
        return {
          ok: false,
          message: `"${text}" is not an IdP group member`,
          hint: 'write idp:IDP_ID:GROUP, e.g. idp:okta:engineering or idp:*:engineering (IDP_ID in lower case)',
        }
      }
      return { ok: true, member: { kind: 'idp', idp, group, text } }
    }
    case 'group':
      if (!GROUP_NAME.test(rest)) {
        return {
          ok: false,
          message: `"${text}" is not a group name`,
          hint: 'group names use letters, digits, _ . -',
        }
      }
      return { ok: true, member: { kind: 'group', name: text, text } }
    default: {
      const hint =
        text.includes('@') && colon < 0 ? `did you mean "user:${text}"? ${MEMBER_FORMS}` : MEMBER_FORMS
      return { ok: false, message: `"${text}" is not a member`, hint }
    }
  }
}

/** The (ASCII) lower-cased domain of an email address, or null. */
export function emailDomain(email: string): string | null {
  const at = email.lastIndexOf('@')
  return at < 0 ? null : foldEmail(email.slice(at + 1))
}

/** Identity of a member for de-duplication: kind plus its normalised value. */
export function memberKey(member: Member): string {
  switch (member.kind) {
    case 'user':
      return `user:${member.email}`
    case 'domain':
      return `domain:${member.domain}`
    case 'idp':
      return `idp:${member.idp}:${member.group}`
    case 'group':
      return member.name
  }
}
