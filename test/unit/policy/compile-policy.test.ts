// What compiling a checked policy produces, exactly: the route table in file order, each grant's route
// ids ascending whatever order its dst names them in, the network without an IPv6 prefix, the admins
// as written (src/core/policy/compile-policy.ts).
import { describe, expect, it } from 'vitest'
import { BASE, compile } from './helpers.ts'

describe('compilePolicy', () => {
  it('numbers routes in file order and gives each grant its route ids ascending', () => {
    const policy = compile(
      BASE.replace(
        '"grants": [ { "src": ["group:eng"], "dst": ["eu-1:*"], "assurance": "mfa" } ],',
        `"grants": [
          { "src": ["group:eng"], "dst": ["us-1:prod", "eu-1:office", "eu-1:prod"] },
          { "src": ["user:bob@example.com"], "dst": ["us-1:*", "eu-1:office"] },
        ],`,
      ),
    )
    expect(policy.routeTable.map((r) => r.name)).toEqual(['eu-1:prod', 'eu-1:office', 'us-1:prod'])
    expect(policy.routeTable[2]).toEqual({
      gateway: 'us-1',
      route: 'prod',
      name: 'us-1:prod',
      cidrs: ['10.20.0.0/16'],
    })
    expect(policy.grants.map((g) => g.routeIds)).toEqual([
      [0, 1, 2],
      [1, 2],
    ])
    expect(policy.grants.map((g) => [...g.gateways])).toEqual([
      ['eu-1', 'us-1'],
      ['eu-1', 'us-1'],
    ])
  })

  it('compiles a network without an IPv6 prefix to ipv6 null', () => {
    const policy = compile(
      BASE.replace(
        '"network": { "ipv4": "100.96.0.0/16", "ipv6": "fd7a:115c:a1e0::/64" },',
        '"network": { "ipv4": "100.96.0.0/16" },',
      ),
    )
    expect(policy.network).toEqual({ ipv4: '100.96.0.0/16', ipv6: null, dns: [] })
  })

  it('keeps the admins as written, groups and all', () => {
    const policy = compile(
      BASE.replace('"groups":', '"admins": ["group:eng", "user:Root@Example.com"],\n  "groups":'),
    )
    expect(policy.admins).toEqual(['group:eng', 'user:Root@Example.com'])
  })
})
