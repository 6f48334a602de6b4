/**
 * The one builder of the policy's view of a person (`Subject`) and of what a session carries about them.
 * Sign-in, every request and the re-judging of leases after a policy swap all go through here, so a rule
 * about who someone is (an email counts only when the IdP verified it) cannot differ between them.
 */
import type { AuthFacts, Identity, Subject } from '../model.ts'

/** What policy may match on: the identity's email only when the IdP said it verified it. */
export function policyEmail(identity: Pick<Identity, 'email' | 'emailVerified'>): string | null {
  // `user:` and `domain:` match on this: an unverified address anyone can set at some IdP must not count.
  return identity.emailVerified ? identity.email : null
}

/** The identity facts a session carries (and from which its subject is built). */
export interface SubjectFacts {
  idpId: string
  issuer: string
  subject: string
  /** Already filtered by `policyEmail`. */
  email: string | null
  groups: string[]
}

/** The facts of a session made from a stored identity. */
export function subjectFactsOf(identity: Identity): SubjectFacts {
  return {
    idpId: identity.idpId,
    issuer: identity.issuer,
    subject: identity.subject,
    email: policyEmail(identity),
    groups: [...identity.groups],
  }
}

/** A subject from a session's facts (already filtered) and the sign-in behind it. */
export function subjectFromFacts(facts: SubjectFacts, auth: AuthFacts): Subject {
  return {
    idpId: facts.idpId,
    issuer: facts.issuer,
    subject: facts.subject,
    email: facts.email,
    groups: facts.groups,
    auth,
  }
}

/** A subject from a stored identity and the sign-in facts kept with a lease. */
export function subjectFromIdentity(identity: Identity, auth: AuthFacts): Subject {
  return subjectFromFacts(subjectFactsOf(identity), auth)
}
