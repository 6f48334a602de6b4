/**
 * The semantic checks of a policy that reads cleanly: every reference resolves (groups, gateways, routes,
 * assurance levels), groups do not contain themselves, routes stay clear of the overlay network, and
 * grants that can never give anything are pointed out as warnings.
 */
import { cidrsOverlap } from './cidr.ts'
import type { DiagnosticSink } from './diagnostics.ts'
import { type Member, memberKey } from './members.ts'
import type { DestinationRef, Located, PolicyDocument } from './policy-document.ts'
import { expandMembers, flattenGroups } from './resolve-groups.ts'

export function validatePolicy(doc: PolicyDocument, sink: DiagnosticSink): void {
  checkMemberReferences(doc, sink)
  checkGroupCycles(doc, sink)
  checkDestinations(doc, sink)
  checkRoutes(doc, sink)
  // On a policy with errors, "never matches" is mostly an echo of those errors.
  if (sink.errors.length === 0) checkNeverMatching(doc, sink)
}

function checkMemberReferences(doc: PolicyDocument, sink: DiagnosticSink): void {
  const known = new Set(doc.groups.map((g) => g.name))
  const check = (members: Located<Member>[]) => {
    for (const { value, at } of members) {
      if (value.kind === 'group' && !known.has(value.name)) {
        const hint = known.size === 0 ? 'define it under "groups"' : `known groups: ${[...known].join(', ')}`
        sink.error(at, 'UNKNOWN_GROUP', `unknown group "${value.name}"`, hint)
      }
    }
  }
  for (const group of doc.groups) check(group.members)
  for (const grant of doc.grants) check(grant.src)
  for (const rule of doc.deny) check(rule.src)
  check(doc.admins)
}

function checkGroupCycles(doc: PolicyDocument, sink: DiagnosticSink): void {
  const byName = new Map(doc.groups.map((g) => [g.name, g]))
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (name: string) => {
    const group = byName.get(name)
    if (group === undefined || state.get(name) === 'done') return
    state.set(name, 'visiting')
    stack.push(name)
    for (const { value, at } of group.members) {
      if (value.kind !== 'group') continue
      if (state.get(value.name) === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(value.name)), value.name].join(' -> ')
        sink.error(
          at,
          'GROUP_CYCLE',
          `group cycle: ${cycle}`,
          'a group cannot contain itself, directly or through other groups',
        )
      } else {
        visit(value.name)
      }
    }
    stack.pop()
    state.set(name, 'done')
  }
  for (const group of doc.groups) visit(group.name)
}

function checkDestinations(doc: PolicyDocument, sink: DiagnosticSink): void {
  const gateways = new Map(doc.gateways.map((g) => [g.name, new Set(g.routes.map((r) => r.name))]))
  const levels = new Set(doc.assurance.map((a) => a.name))
  const check = ({ value, at }: Located<DestinationRef>) => {
    const routes = gateways.get(value.gateway)
    if (routes === undefined) {
      const hint =
        gateways.size === 0
          ? 'define it under "gateways"'
          : `known gateways: ${[...gateways.keys()].join(', ')}`
      sink.error(at, 'UNKNOWN_GATEWAY', `unknown gateway "${value.gateway}"`, hint)
    } else if (value.route !== '*' && !routes.has(value.route)) {
      const hint =
        routes.size === 0
          ? `gateway "${value.gateway}" has no routes`
          : `routes of ${value.gateway}: ${[...routes].join(', ')}, or *`
      sink.error(at, 'UNKNOWN_ROUTE', `gateway "${value.gateway}" has no route "${value.route}"`, hint)
    }
  }
  const checkLevel = (level: Located<string> | null) => {
    if (level !== null && !levels.has(level.value)) {
      const hint =
        levels.size === 0 ? 'define it under "assurance"' : `known levels: ${[...levels].join(', ')}`
      sink.error(level.at, 'UNKNOWN_ASSURANCE', `unknown assurance level "${level.value}"`, hint)
    }
  }
  for (const grant of doc.grants) {
    grant.dst.forEach(check)
    checkLevel(grant.assurance)
  }
  for (const test of doc.tests) {
    test.expect.allow?.forEach(check)
    checkLevel(test.expect.stepUp)
  }
}

function checkRoutes(doc: PolicyDocument, sink: DiagnosticSink): void {
  const overlay = [doc.network?.ipv4, doc.network?.ipv6].filter((c) => c != null)
  const seen: Array<{ gateway: string; route: string; cidr: Located<import('./cidr.ts').Cidr> }> = []
  for (const gateway of doc.gateways) {
    for (const route of gateway.routes) {
      for (const cidr of route.cidrs) {
        // A route that is exactly the overlay network is the one way to grant peer-to-peer traffic (the
        // gateway's filter drops it otherwise); any other overlap is a mistake.
        const clash = overlay.find(
          (net) => cidrsOverlap(net.value, cidr.value) && net.value.prefix !== cidr.value.prefix,
        )
        if (clash !== undefined) {
          sink.error(
            cidr.at,
            'ROUTE_OVERLAPS_NETWORK',
            `route ${cidr.value.text} overlaps the overlay network ${clash.value.text}`,
            'routes reach networks behind the gateway; pick a prefix outside the overlay network, or name exactly the overlay network to allow peer-to-peer traffic',
          )
        }
        const other = seen.find((s) => s.gateway !== gateway.name && cidrsOverlap(s.cidr.value, cidr.value))
        if (other !== undefined) {
          sink.warning(
            cidr.at,
            'ROUTES_OVERLAP',
            `route ${cidr.value.text} overlaps ${other.cidr.value.text} of ${other.gateway}:${other.route}`,
            'a client granted both gets one WireGuard peer per prefix; the other route will not work',
          )
        }
        seen.push({ gateway: gateway.name, route: route.name, cidr })
      }
    }
  }
}

function checkNeverMatching(doc: PolicyDocument, sink: DiagnosticSink): void {
  const flat = flattenGroups(doc.groups)
  const routeCount = new Map(doc.gateways.map((g) => [g.name, g.routes.filter((r) => r.cidrs.length > 0)]))
  const denied = new Set(
    doc.deny.flatMap((rule) =>
      expandMembers(
        rule.src.map((m) => m.value),
        flat,
      ).map(memberKey),
    ),
  )
  if (doc.grants.length === 0) {
    sink.warning(
      { offset: 0, path: 'grants' },
      'NO_GRANTS',
      'the policy has no grants, so it allows nobody',
      'add grants to allow access',
    )
  }
  for (const grant of doc.grants) {
    const people = expandMembers(
      grant.src.map((m) => m.value),
      flat,
    )
    const never = (message: string, hint: string) =>
      sink.warning(grant.at, 'GRANT_NEVER_MATCHES', message, hint)
    if (grant.src.length === 0) never(`${grant.id} has no src, so it matches nobody`, 'list members in "src"')
    else if (people.length === 0)
      never(`${grant.id} names only empty groups, so it matches nobody`, 'add members to its groups')
    else if (people.every((m) => denied.has(memberKey(m)))) {
      never(`every member of ${grant.id} is denied by a deny rule`, 'a matching deny wins over every grant')
    }
    const reachesRoutes = grant.dst.some(({ value }) => {
      const routes = routeCount.get(value.gateway)
      return (
        routes !== undefined &&
        (value.route === '*' ? routes.length > 0 : routes.some((r) => r.name === value.route))
      )
    })
    if (grant.dst.length > 0 && !reachesRoutes) {
      never(`${grant.id} reaches no route with an address`, 'its gateways or routes have no CIDR prefixes')
    } else if (grant.dst.length === 0) {
      never(`${grant.id} has no dst, so it gives nothing`, 'list GATEWAY:ROUTE destinations in "dst"')
    }
  }
}
