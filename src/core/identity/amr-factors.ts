/**
 * RFC 8176 authentication method reference values, grouped by the kind of factor they prove.
 *
 * Multi-factor means two different kinds (something you know, have, are), not two methods: `pwd` + `pin`
 * is still one kind. Values that are not a factor by themselves (`geo`, `rba`, `user`, `wia`, `mca`,
 * `mfa`) have no kind here; `mfa` is handled as an explicit claim by the profiles.
 */

export type FactorKind = 'knowledge' | 'possession' | 'inherence'

const FACTOR_KIND: Readonly<Record<string, FactorKind>> = {
  pwd: 'knowledge',
  pin: 'knowledge',
  kba: 'knowledge',
  otp: 'possession',
  hwk: 'possession',
  swk: 'possession',
  sc: 'possession',
  sms: 'possession',
  tel: 'possession',
  face: 'inherence',
  fpt: 'inherence',
  iris: 'inherence',
  retina: 'inherence',
  vbm: 'inherence',
}

export function factorKindOf(amr: string): FactorKind | null {
  return Object.hasOwn(FACTOR_KIND, amr) ? (FACTOR_KIND[amr] ?? null) : null
}

/** The distinct factor kinds a list of `amr` values proves. */
export function factorKinds(amr: readonly string[]): Set<FactorKind> {
  const kinds = new Set<FactorKind>()
  for (const value of amr) {
    const kind = factorKindOf(value)
    if (kind !== null) kinds.add(kind)
  }
  return kinds
}
