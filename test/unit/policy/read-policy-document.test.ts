// The structural read of a policy file: every diagnostic it can give, word for word and where it points,
// and what it keeps of the document (values dropped where they are wrong, placeholders where a name
// must stay known so that references to it get no second, false error).
import { describe, expect, it } from 'vitest'
import { DiagnosticSink } from '../../../src/core/policy/diagnostics.ts'
import { compilePolicySource, loadPolicy } from '../../../src/core/policy/index.ts'
import { parsePolicySyntax } from '../../../src/core/policy/parse-policy.ts'
import { readPolicyDocument } from '../../../src/core/policy/read-policy-document.ts'
import { FILE } from './helpers.ts'

type Row = [
  line: number,
  col: number,
  path: string,
  code: string,
  message: string,
  hint: string,
  warning?: 'warning',
]

/** Every diagnostic of a load (errors, then warnings), as [line, col, path, code, message, hint]. */
function diagnosticsOf(source: string): Row[] {
  const { errors, warnings } = compilePolicySource(source, FILE)
  return [...errors, ...warnings].map((d) => {
    const row: Row = [d.line, d.col, d.path, d.code, d.message, d.hint]
    if (d.severity === 'warning') row.push('warning')
    return row
  })
}

/** The document as the reader leaves it, and what it reported. */
function read(source: string) {
  const sink = new DiagnosticSink(FILE, source)
  const { root } = parsePolicySyntax(source, sink)
  const doc = readPolicyDocument(root, sink)
  return { doc, codes: sink.errors.map((e) => `${e.code} ${e.path}`) }
}

describe('every diagnostic of the structural read', () => {
  it('an unknown key gets a did-you-mean when it is a near miss (case, or at most two edits), the known keys otherwise', () => {
    expect(
      diagnosticsOf(
        '{ "GRANTS": [], "grant": [], "gr": [], "sesions": {}, "netwrk": {}, "xyzzy": 1, "test": [], "gatewaysxyz": 1, "Admin": [] }',
      ),
    ).toEqual([
      [1, 3, 'GRANTS', 'UNKNOWN_KEY', 'unknown key "GRANTS" in policy', 'did you mean "grants"?'],
      [1, 17, 'grant', 'UNKNOWN_KEY', 'unknown key "grant" in policy', 'did you mean "grants"?'],
      [
        1,
        30,
        'gr',
        'UNKNOWN_KEY',
        'unknown key "gr" in policy',
        'known keys: network, gateways, groups, assurance, grants, deny, admins, leases, sessions, tests',
      ],
      [1, 40, 'sesions', 'UNKNOWN_KEY', 'unknown key "sesions" in policy', 'did you mean "sessions"?'],
      [1, 55, 'netwrk', 'UNKNOWN_KEY', 'unknown key "netwrk" in policy', 'did you mean "network"?'],
      [
        1,
        69,
        'xyzzy',
        'UNKNOWN_KEY',
        'unknown key "xyzzy" in policy',
        'known keys: network, gateways, groups, assurance, grants, deny, admins, leases, sessions, tests',
      ],
      [1, 81, 'test', 'UNKNOWN_KEY', 'unknown key "test" in policy', 'did you mean "tests"?'],
      [
        1,
        93,
        'gatewaysxyz',
        'UNKNOWN_KEY',
        'unknown key "gatewaysxyz" in policy',
        'known keys: network, gateways, groups, assurance, grants, deny, admins, leases, sessions, tests',
      ],
      [1, 111, 'Admin', 'UNKNOWN_KEY', 'unknown key "Admin" in policy', 'did you mean "admins"?'],
    ])
  })

  it('a near miss is two edits at most, over two letters long, within two letters of the length', () => {
    expect(
      diagnosticsOf('{ "gatewa": [], "de": [], "dny": [], "grxyzs": [], "grents": [], "admisn": [] }').map(
        (r) => [r[2], r[5]],
      ),
    ).toEqual([
      ['gatewa', 'did you mean "gateways"?'],
      [
        'de',
        'known keys: network, gateways, groups, assurance, grants, deny, admins, leases, sessions, tests',
      ],
      ['dny', 'did you mean "deny"?'],
      [
        'grxyzs',
        'known keys: network, gateways, groups, assurance, grants, deny, admins, leases, sessions, tests',
      ],
      ['grents', 'did you mean "grants"?'],
      ['admisn', 'did you mean "admins"?'],
    ])
  })

  it('a value of the wrong type names what was expected and what came', () => {
    expect(
      diagnosticsOf(
        '{ "grants": {}, "deny": "x", "tests": 1, "gateways": [], "groups": true, "assurance": null, "leases": [], "sessions": "yes", "admins": {} }',
      ),
    ).toEqual([
      [1, 13, 'grants', 'WRONG_TYPE', 'expected an array, got an object', ''],
      [1, 25, 'deny', 'WRONG_TYPE', 'expected an array, got a string', ''],
      [1, 39, 'tests', 'WRONG_TYPE', 'expected an array, got a number', ''],
      [1, 54, 'gateways', 'WRONG_TYPE', 'expected an object, got an array', ''],
      [1, 68, 'groups', 'WRONG_TYPE', 'expected an object, got a boolean', ''],
      [1, 87, 'assurance', 'WRONG_TYPE', 'expected an object, got a null', ''],
      [1, 103, 'leases', 'WRONG_TYPE', 'expected leases (an object), got an array', ''],
      [1, 119, 'sessions', 'WRONG_TYPE', 'expected sessions (an object), got a string', ''],
      [1, 136, 'admins', 'WRONG_TYPE', 'expected an array of strings, got an object', ''],
    ])
  })

  it('a key given twice is reported at its second occurrence', () => {
    expect(diagnosticsOf('{ "grants": [], "admins": [], "grants": [] }')).toEqual([
      [1, 31, 'grants', 'DUPLICATE_KEY', '"grants" appears twice', 'remove or merge one of them'],
    ])
  })

  it('the overlay network: each family in its own key, DNS servers as IP addresses', () => {
    expect(
      diagnosticsOf(
        '{ "network": { "ipv4": "fd00::/64", "ipv6": "10.0.0.0/8", "dns": ["1.1.1.1", "x", 5, "fd00::53"] } }',
      ),
    ).toEqual([
      [1, 24, 'network.ipv4', 'INVALID_CIDR', 'network.ipv4 must be an IPv4 prefix', 'e.g. 100.96.0.0/16'],
      [
        1,
        45,
        'network.ipv6',
        'INVALID_CIDR',
        'network.ipv6 must be an IPv6 prefix',
        'e.g. a ULA such as fd7a:115c:a1e0::/64',
      ],
      [
        1,
        78,
        'network.dns[1]',
        'INVALID_ADDRESS',
        '"x" is not an IP address',
        'DNS servers are IP addresses, e.g. 10.10.0.53',
      ],
      [1, 83, 'network.dns[2]', 'WRONG_TYPE', 'expected a string, got a number', ''],
    ])
  })

  it('the overlay prefixes: below /8 (IPv4) or /16 (IPv6) is out of range', () => {
    expect(diagnosticsOf('{ "network": { "ipv4": "10.0.0.0/7", "ipv6": "fd00::/15" } }')).toEqual([
      [
        1,
        24,
        'network.ipv4',
        'INVALID_CIDR',
        'a /7 overlay network is out of range',
        'use a prefix from /8 to /30, e.g. /16',
      ],
      [
        1,
        46,
        'network.ipv6',
        'INVALID_CIDR',
        'a /15 overlay network is out of range',
        'use a prefix from /16 to /120, e.g. /64',
      ],
    ])
  })

  it('the overlay prefixes: above /30 (IPv4) or /120 (IPv6) is out of range', () => {
    expect(diagnosticsOf('{ "network": { "ipv4": "10.0.0.0/31", "ipv6": "fd00::/121" } }')).toEqual([
      [
        1,
        24,
        'network.ipv4',
        'INVALID_CIDR',
        'a /31 overlay network is out of range',
        'use a prefix from /8 to /30, e.g. /16',
      ],
      [
        1,
        47,
        'network.ipv6',
        'INVALID_CIDR',
        'a /121 overlay network is out of range',
        'use a prefix from /16 to /120, e.g. /64',
      ],
    ])
  })

  it("the overlay network's values have their types", () => {
    expect(diagnosticsOf('{ "network": { "ipv4": 10, "ipv6": 6, "dns": "1.1.1.1" } }')).toEqual([
      [1, 24, 'network.ipv4', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [1, 36, 'network.ipv6', 'WRONG_TYPE', 'expected a string, got a number', 'an IPv6 prefix, or null'],
      [1, 46, 'network.dns', 'WRONG_TYPE', 'expected an array of strings, got a string', ''],
    ])
  })

  it('network needs ipv4', () => {
    expect(diagnosticsOf('{ "network": { "ipv6": null } }')).toEqual([
      [1, 14, 'network', 'MISSING_KEY', 'network needs "ipv4"', 'add "ipv4": …'],
    ])
  })

  it('network is an object', () => {
    expect(diagnosticsOf('{ "network": [] }')).toEqual([
      [1, 14, 'network', 'WRONG_TYPE', 'expected network (an object), got an array', ''],
    ])
  })

  it('the overlay prefixes are CIDR prefixes', () => {
    expect(diagnosticsOf('{ "network": { "ipv4": "nope", "ipv6": "nope6" } }')).toEqual([
      [
        1,
        24,
        'network.ipv4',
        'INVALID_CIDR',
        '"nope" is not a CIDR prefix',
        'write an address and a prefix length, e.g. 10.10.0.0/16',
      ],
      [
        1,
        40,
        'network.ipv6',
        'INVALID_CIDR',
        '"nope6" is not a CIDR prefix',
        'write an address and a prefix length, e.g. 10.10.0.0/16',
      ],
    ])
  })

  it('gateways: names, endpoint, routes and their prefixes', () => {
    expect(
      diagnosticsOf(
        '{ "gateways": { "eu-1": 5, "EU": { "endpoint": 1, "routes": { "ok": ["10.0.0.0/8", "nope", 3], "bad name": ["10.1.0.0/16"], "*": [] } }, "eu-2": { "routes": [] } } }',
      ),
    ).toEqual([
      [1, 25, 'gateways["eu-1"]', 'WRONG_TYPE', 'expected gateway "eu-1" (an object), got a number', ''],
      [
        1,
        28,
        'gateways.EU',
        'INVALID_NAME',
        '"EU" is not a valid gateway name',
        'lower-case letters, digits and -, e.g. eu-1',
      ],
      [1, 48, 'gateways.EU.endpoint', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [
        1,
        84,
        'gateways.EU.routes.ok[1]',
        'INVALID_CIDR',
        '"nope" is not a CIDR prefix',
        'write an address and a prefix length, e.g. 10.10.0.0/16',
      ],
      [
        1,
        92,
        'gateways.EU.routes.ok[2]',
        'WRONG_TYPE',
        'expected a string, got a number',
        'routes are arrays of CIDR prefixes, e.g. ["10.10.0.0/16"]',
      ],
      [
        1,
        96,
        'gateways.EU.routes["bad name"]',
        'INVALID_NAME',
        '"bad name" is not a valid route name',
        'letters, digits, _ . -; "*" is reserved for all routes',
      ],
      [
        1,
        125,
        'gateways.EU.routes["*"]',
        'INVALID_NAME',
        '"*" is not a valid route name',
        'letters, digits, _ . -; "*" is reserved for all routes',
      ],
      [1, 146, 'gateways["eu-2"]', 'MISSING_KEY', 'gateway "eu-2" needs "endpoint"', 'add "endpoint": …'],
      [1, 158, 'gateways["eu-2"].routes', 'WRONG_TYPE', 'expected an object, got an array', ''],
    ])
  })

  it('groups: group:NAME keys, lists of members', () => {
    expect(
      diagnosticsOf(
        '{ "groups": { "eng": [], "group:": [], "group:a b": [], "xgroup:a": [], "group:ok": "user:a@example.com", "group:ok2": ["user:a@example.com", 1, "bad"] } }',
      ),
    ).toEqual([
      [
        1,
        15,
        'groups.eng',
        'INVALID_NAME',
        '"eng" is not a valid group name',
        'group keys look like "group:eng" (letters, digits, _ . - after the prefix)',
      ],
      [
        1,
        26,
        'groups["group:"]',
        'INVALID_NAME',
        '"group:" is not a valid group name',
        'group keys look like "group:eng" (letters, digits, _ . - after the prefix)',
      ],
      [
        1,
        40,
        'groups["group:a b"]',
        'INVALID_NAME',
        '"group:a b" is not a valid group name',
        'group keys look like "group:eng" (letters, digits, _ . - after the prefix)',
      ],
      [
        1,
        57,
        'groups["xgroup:a"]',
        'INVALID_NAME',
        '"xgroup:a" is not a valid group name',
        'group keys look like "group:eng" (letters, digits, _ . - after the prefix)',
      ],
      [1, 85, 'groups["group:ok"]', 'WRONG_TYPE', 'expected an array of strings, got a string', ''],
      [1, 143, 'groups["group:ok2"][1]', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [
        1,
        146,
        'groups["group:ok2"][2]',
        'INVALID_MEMBER',
        '"bad" is not a member',
        'members are user:EMAIL, domain:DOMAIN, idp:IDP_ID:GROUP or group:NAME',
      ],
    ])
  })

  it("assurance levels: names, each condition's type, empty lists, maxAuthAge's range", () => {
    expect(
      diagnosticsOf(
        '{ "assurance": { "a": { "mfa": "yes" }, "b": { "amrAny": [], "acrAny": "x" }, "c": [], "bad name": { "mfa": true }, "d": { "maxAuthAge": "31d" }, "e": { "maxAuthAge": "0s" }, "f": { "maxAuthAge": "x" }, "g": { "maxAuthAge": 5 }, "h": { "acrAny": [] } } }',
      ),
    ).toEqual([
      [1, 32, 'assurance.a.mfa', 'WRONG_TYPE', 'expected true or false, got a string', ''],
      [
        1,
        58,
        'assurance.b.amrAny',
        'EMPTY_LIST',
        'amrAny is empty, so nothing can meet it',
        'list at least one value or remove the key',
      ],
      [
        1,
        72,
        'assurance.b.acrAny',
        'WRONG_TYPE',
        'expected an array of strings, got a string',
        'acr values the IdP returns, e.g. ["phrh"]',
      ],
      [1, 84, 'assurance.c', 'WRONG_TYPE', 'expected assurance level "c" (an object), got an array', ''],
      [
        1,
        88,
        'assurance["bad name"]',
        'INVALID_NAME',
        '"bad name" is not a valid assurance level name',
        'letters, digits, _ . -',
      ],
      [
        1,
        138,
        'assurance.d.maxAuthAge',
        'INVALID_DURATION',
        'maxAuthAge "31d" is longer than allowed',
        'at most 30d',
      ],
      [
        1,
        168,
        'assurance.e.maxAuthAge',
        'INVALID_DURATION',
        'maxAuthAge must be positive',
        'durations look like 8h, 15m, 1h30m, 90s or 2d',
      ],
      [
        1,
        197,
        'assurance.f.maxAuthAge',
        'INVALID_DURATION',
        '"x" is not a duration',
        'durations look like 8h, 15m, 1h30m, 90s or 2d',
      ],
      [
        1,
        225,
        'assurance.g.maxAuthAge',
        'WRONG_TYPE',
        'expected a string, got a number',
        'durations look like 8h, 15m, 1h30m, 90s or 2d',
      ],
      [
        1,
        247,
        'assurance.h.acrAny',
        'EMPTY_LIST',
        'acrAny is empty, so nothing can meet it',
        'list at least one value or remove the key',
      ],
    ])
  })

  it('grants: the object, src, destinations, assurance, ttl, onUnmet', () => {
    expect(
      diagnosticsOf(
        '{ "grants": [ 5, { "dst": ["eu-1", "EU:prod", "eu-1:", "eu-1:bad route", "a:b:c", 3] }, { "src": "x", "dst": [], "assurance": 5, "ttl": "31d", "onUnmet": 1 }, { "src": [], "dst": [], "onUnmet": "stepUp" }, { "src": [], "dst": [], "onUnmet": "maybe" } ] }',
      ),
    ).toEqual([
      [1, 15, 'grants[0]', 'WRONG_TYPE', 'expected grant (an object), got a number', ''],
      [1, 18, 'grants[1]', 'MISSING_KEY', 'grant needs "src"', 'add "src": …'],
      [
        1,
        28,
        'grants[1].dst[0]',
        'INVALID_DESTINATION',
        '"eu-1" is not a destination',
        'write GATEWAY:ROUTE or GATEWAY:*, e.g. eu-1:prod',
      ],
      [
        1,
        36,
        'grants[1].dst[1]',
        'INVALID_DESTINATION',
        '"EU:prod" is not a destination',
        'write GATEWAY:ROUTE or GATEWAY:*, e.g. eu-1:prod',
      ],
      [
        1,
        47,
        'grants[1].dst[2]',
        'INVALID_DESTINATION',
        '"eu-1:" is not a destination',
        'write GATEWAY:ROUTE or GATEWAY:*, e.g. eu-1:prod',
      ],
      [
        1,
        56,
        'grants[1].dst[3]',
        'INVALID_DESTINATION',
        '"eu-1:bad route" is not a destination',
        'write GATEWAY:ROUTE or GATEWAY:*, e.g. eu-1:prod',
      ],
      [
        1,
        74,
        'grants[1].dst[4]',
        'INVALID_DESTINATION',
        '"a:b:c" is not a destination',
        'write GATEWAY:ROUTE or GATEWAY:*, e.g. eu-1:prod',
      ],
      [1, 83, 'grants[1].dst[5]', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [1, 98, 'grants[2].src', 'WRONG_TYPE', 'expected an array of strings, got a string', ''],
      [1, 127, 'grants[2].assurance', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [1, 137, 'grants[2].ttl', 'INVALID_DURATION', 'ttl "31d" is longer than allowed', 'at most 30d'],
      [1, 155, 'grants[2].onUnmet', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [1, 242, 'grants[4].onUnmet', 'INVALID_VALUE', 'onUnmet "maybe" is unknown', 'use "deny" or "stepUp"'],
      [
        1,
        195,
        'grants[3].onUnmet',
        'STEP_UP_WITHOUT_ASSURANCE',
        'onUnmet has no effect on a grant without an assurance level',
        'add "assurance" or remove "onUnmet"',
        'warning',
      ],
    ])
  })

  it('deny rules: an object with src', () => {
    expect(diagnosticsOf('{ "deny": [ {}, "x", { "src": ["bad"] } ] }')).toEqual([
      [1, 13, 'deny[0]', 'MISSING_KEY', 'deny rule needs "src"', 'add "src": …'],
      [1, 17, 'deny[1]', 'WRONG_TYPE', 'expected deny rule (an object), got a string', ''],
      [
        1,
        32,
        'deny[2].src[0]',
        'INVALID_MEMBER',
        '"bad" is not a member',
        'members are user:EMAIL, domain:DOMAIN, idp:IDP_ID:GROUP or group:NAME',
      ],
    ])
  })

  it('in-file tests: the object, user, verdict, stepUp, authAge, idp', () => {
    expect(
      diagnosticsOf(
        '{ "tests": [ 1, {}, { "user": 5, "expect": { "allow": [] } }, { "user": "a@example.com", "verdict": "strong", "stepUp": "sms", "authAge": "later", "expect": { "allow": [] } }, { "user": "a@example.com", "verdict": 1, "stepUp": 2, "authAge": 3, "idp": 4, "groups": "x", "amr": [1], "acr": 5, "gateways": 6, "expect": { "allow": [] } } ] }',
      ),
    ).toEqual([
      [1, 14, 'tests[0]', 'WRONG_TYPE', 'expected test (an object), got a number', ''],
      [1, 17, 'tests[1]', 'MISSING_KEY', 'test needs "user"', 'add "user": …'],
      [1, 17, 'tests[1]', 'MISSING_KEY', 'test needs "expect"', 'add "expect": …'],
      [1, 31, 'tests[2].user', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [
        1,
        101,
        'tests[3].verdict',
        'INVALID_VALUE',
        'verdict "strong" is unknown',
        'use "mfa", "single" or "unknown"',
      ],
      [
        1,
        121,
        'tests[3].stepUp',
        'INVALID_VALUE',
        'stepUp "sms" is unknown',
        'use one of "totp", "totp@idp-mfa", "webauthn", "webauthn@idp-mfa", "webauthn:hwk", "webauthn:hwk@idp-mfa"',
      ],
      [
        1,
        139,
        'tests[3].authAge',
        'INVALID_DURATION',
        '"later" is not a duration',
        'durations look like 8h, 15m, 1h30m, 90s or 2d',
      ],
      [1, 215, 'tests[4].verdict', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [1, 228, 'tests[4].stepUp', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [
        1,
        242,
        'tests[4].authAge',
        'WRONG_TYPE',
        'expected a string, got a number',
        'durations look like 8h, 15m, 1h30m, 90s or 2d',
      ],
      [1, 252, 'tests[4].idp', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [1, 265, 'tests[4].groups', 'WRONG_TYPE', 'expected an array of strings, got a string', ''],
      [1, 278, 'tests[4].amr[0]', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [1, 289, 'tests[4].acr', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [1, 304, 'tests[4].gateways', 'WRONG_TYPE', 'expected an array of strings, got a number', ''],
    ])
  })

  it("in-file tests' expectations: allow or deny, a denial code, a ttl only for allow, a step-up only for ASSURANCE_UNMET", () => {
    expect(
      diagnosticsOf(
        `{ "tests": [
  { "user": "a@example.com", "expect": { "allow": [], "deny": "NO_MATCHING_GRANT" } },
  { "user": "a@example.com", "expect": { "allow": ["eu-1", "eu-1:*"] } },
  { "user": "a@example.com", "expect": { "deny": 5 } },
  { "user": "a@example.com", "expect": { "deny": "DENIED_BY_RULE", "ttl": "1h" } },
  { "user": "a@example.com", "expect": { "allow": [], "ttl": "soon" } },
  { "user": "a@example.com", "expect": { "deny": "DENIED_BY_RULE", "stepUp": "mfa" } },
  { "user": "a@example.com", "expect": { "deny": "ASSURANCE_UNMET", "stepUp": 5 } },
  { "user": "a@example.com", "expect": { "allow": [], "stepUp": "mfa" } },
  { "user": "a@example.com", "expect": [] },
  { "user": "a@example.com", "expect": { "allow": "eu-1:*", "bogus": 1 } },
] }`,
      ),
    ).toEqual([
      [
        2,
        40,
        'tests[0].expect',
        'INVALID_TEST',
        'a test expects either "allow" or "deny"',
        'e.g. "expect": { "allow": ["eu-1:prod"] } or { "deny": "NO_MATCHING_GRANT" }',
      ],
      [
        3,
        52,
        'tests[1].expect.allow[0]',
        'INVALID_DESTINATION',
        '"eu-1" is not a GATEWAY:ROUTE',
        'write GATEWAY:ROUTE or GATEWAY:*, e.g. eu-1:prod',
      ],
      [
        3,
        60,
        'tests[1].expect.allow[1]',
        'UNKNOWN_GATEWAY',
        'unknown gateway "eu-1"',
        'define it under "gateways"',
      ],
      [4, 50, 'tests[2].expect.deny', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [5, 68, 'tests[3].expect.ttl', 'INVALID_TEST', 'a denial has no ttl', 'remove "ttl" or expect "allow"'],
      [
        6,
        62,
        'tests[4].expect.ttl',
        'INVALID_DURATION',
        '"soon" is not a duration',
        'durations look like 8h, 15m, 1h30m, 90s or 2d',
      ],
      [
        7,
        68,
        'tests[5].expect.stepUp',
        'INVALID_TEST',
        'only an ASSURANCE_UNMET denial carries a step-up demand',
        'expect { "deny": "ASSURANCE_UNMET", "stepUp": LEVEL }',
      ],
      [8, 79, 'tests[6].expect.stepUp', 'WRONG_TYPE', 'expected a string, got a number', ''],
      [
        9,
        55,
        'tests[7].expect.stepUp',
        'INVALID_TEST',
        'only an ASSURANCE_UNMET denial carries a step-up demand',
        'expect { "deny": "ASSURANCE_UNMET", "stepUp": LEVEL }',
      ],
      [10, 40, 'tests[8].expect', 'WRONG_TYPE', 'expected test expectation (an object), got an array', ''],
      [11, 51, 'tests[9].expect.allow', 'WRONG_TYPE', 'expected an array of strings, got a string', ''],
      [
        11,
        61,
        'tests[9].expect.bogus',
        'UNKNOWN_KEY',
        'unknown key "bogus" in test expectation',
        'known keys: allow, ttl, deny, stepUp',
      ],
    ])
  })

  it('sessions: idpLogoutRevokesLeases is true or false, no other key', () => {
    expect(
      diagnosticsOf(
        '{ "leases": { "maxPerUser": 1000 }, "sessions": { "idpLogoutRevokesLeases": "yes", "other": 1 } }',
      ),
    ).toEqual([
      [1, 77, 'sessions.idpLogoutRevokesLeases', 'WRONG_TYPE', 'expected true or false, got a string', ''],
      [
        1,
        84,
        'sessions.other',
        'UNKNOWN_KEY',
        'unknown key "other" in sessions',
        'known keys: idpLogoutRevokesLeases',
      ],
    ])
  })
})

describe('what the reader keeps', () => {
  it('the overlay network at the edges of its ranges, and only the DNS servers that are addresses', () => {
    const { doc, codes } = read(
      '{ "network": { "ipv4": "10.0.0.0/8", "ipv6": "fd00::/16", "dns": ["1.1.1.1", "x", "fd00::53"] } }',
    )
    expect(codes).toEqual(['INVALID_ADDRESS network.dns[1]'])
    expect(doc.network?.ipv4.value.text).toBe('10.0.0.0/8')
    expect(doc.network?.ipv6?.value.text).toBe('fd00::/16')
    expect(doc.network?.dns.map((d) => d.value)).toEqual(['1.1.1.1', 'fd00::53'])
    const top = read('{ "network": { "ipv4": "10.0.0.0/30", "ipv6": "fd00::/120" } }')
    expect(top.codes).toEqual([])
    expect([top.doc.network?.ipv4.value.prefix, top.doc.network?.ipv6?.value.prefix]).toEqual([30, 120])
    const noV6 = read('{ "network": { "ipv4": "10.0.0.0/30", "ipv6": null } }')
    expect(noV6.codes).toEqual([])
    expect(noV6.doc.network?.ipv6).toBeNull()
    expect(read('{ "network": { "ipv4": "fd00::/64" } }').doc.network).toBeNull()
  })

  it('a gateway whose body is wrong stays known by a valid name; a bad name drops it', () => {
    const { doc, codes } = read(
      '{ "gateways": { "eu-1": 5, "EU": 5, "us-1": { "endpoint": "nope", "routes": { "a": ["10.0.0.0/8", "x"], "b c": [] } } } }',
    )
    expect(codes).toEqual([
      'WRONG_TYPE gateways["eu-1"]',
      'INVALID_NAME gateways.EU',
      'WRONG_TYPE gateways.EU',
      'INVALID_ENDPOINT gateways["us-1"].endpoint',
      'INVALID_CIDR gateways["us-1"].routes.a[1]',
      'INVALID_NAME gateways["us-1"].routes["b c"]',
    ])
    expect(
      doc.gateways.map((g) => [
        g.name,
        g.endpoint,
        g.routes.map((r) => [r.name, r.cidrs.map((c) => c.value.text)]),
      ]),
    ).toEqual([
      ['eu-1', '', []],
      ['us-1', '', [['a', ['10.0.0.0/8']]]],
    ])
    const ok = read('{ "gateways": { "eu-1": { "endpoint": "eu-1.example:51820" } } }')
    expect(ok.doc.gateways.map((g) => g.endpoint)).toEqual(['eu-1.example:51820'])
  })

  it('an assurance level whose body is wrong stays known and requires MFA; a bad name drops it', () => {
    const { doc, codes } = read(
      '{ "assurance": { "a": { "mfa": "yes", "amrAny": ["x"] }, "b": 5, "bad name": 5, "c": {}, "d": { "amrAny": ["hwk"], "acrAny": ["x", 1], "maxAuthAge": "1h" }, "e": { "mfa": false } } }',
    )
    expect(codes).toEqual([
      'WRONG_TYPE assurance.a.mfa',
      'WRONG_TYPE assurance.b',
      'INVALID_NAME assurance["bad name"]',
      'WRONG_TYPE assurance["bad name"]',
      'EMPTY_ASSURANCE assurance.c',
      'WRONG_TYPE assurance.d.acrAny[1]',
    ])
    const placeholder = { mfa: true, amrAny: null, acrAny: null, maxAuthAgeMs: null }
    expect(doc.assurance.map(({ at: _, ...level }) => level)).toEqual([
      { name: 'a', ...placeholder },
      { name: 'b', ...placeholder },
      { name: 'c', ...placeholder },
      { name: 'd', mfa: false, amrAny: ['hwk'], acrAny: ['x'], maxAuthAgeMs: 3_600_000 },
      { name: 'e', mfa: false, amrAny: null, acrAny: null, maxAuthAgeMs: null },
    ])
    // So a grant naming a broken level gets no second error; one naming a dropped level does.
    expect(
      diagnosticsOf(`{
  "gateways": { "eu-1": { "endpoint": "a.example:1", "routes": { "p": ["10.0.0.0/8"] } } },
  "assurance": { "a": { "mfa": "yes" }, "bad name": { "mfa": true } },
  "grants": [ { "src": ["user:a@example.com"], "dst": ["eu-1:*"], "assurance": "a" },
              { "src": ["user:a@example.com"], "dst": ["eu-1:*"], "assurance": "bad name" } ],
}`).map((r) => r[3]),
    ).toEqual(['WRONG_TYPE', 'INVALID_NAME', 'UNKNOWN_ASSURANCE'])
  })

  it('grants, deny rules, admins, leases and sessions as written; onUnmet defaults to deny', () => {
    const { doc, codes } = read(
      '{ "grants": [ { "src": ["user:a@example.com", "bad"], "dst": ["eu-1:*", "x"], "assurance": "mfa", "ttl": "2h", "onUnmet": "stepUp" }, { "src": [], "dst": [] } ], "deny": [ { "src": ["user:b@example.com"] } ], "admins": ["user:c@example.com"], "leases": { "maxPerUser": 1000 }, "sessions": { "idpLogoutRevokesLeases": false } }',
    )
    expect(codes).toEqual(['INVALID_MEMBER grants[0].src[1]', 'INVALID_DESTINATION grants[0].dst[1]'])
    expect(
      doc.grants.map((g) => ({
        id: g.id,
        src: g.src.map((m) => m.value.text),
        dst: g.dst.map((d) => d.value),
        assurance: g.assurance?.value ?? null,
        ttlMs: g.ttlMs,
        onUnmet: g.onUnmet,
      })),
    ).toEqual([
      {
        id: 'grants[0]',
        src: ['user:a@example.com'],
        dst: [{ gateway: 'eu-1', route: '*' }],
        assurance: 'mfa',
        ttlMs: 7_200_000,
        onUnmet: 'stepUp',
      },
      { id: 'grants[1]', src: [], dst: [], assurance: null, ttlMs: null, onUnmet: 'deny' },
    ])
    expect(doc.deny.map((r) => [r.id, r.src.map((m) => m.value.text)])).toEqual([
      ['deny[0]', ['user:b@example.com']],
    ])
    expect(doc.admins.map((m) => m.value.text)).toEqual(['user:c@example.com'])
    expect(doc.leases).toEqual({ maxPerUser: 1000 })
    expect(doc.sessions).toEqual({ idpLogoutRevokesLeases: false })
    expect(read('{ "leases": {}, "sessions": {} }').doc).toMatchObject({
      leases: { maxPerUser: null },
      sessions: { idpLogoutRevokesLeases: null },
    })
    expect(read('{ "leases": { "maxPerUser": 1 } }').doc.leases).toEqual({ maxPerUser: 1 })
  })

  it('sessions.idpLogoutRevokesLeases reaches the compiled policy, true when unset', () => {
    const off = loadPolicy('{ "sessions": { "idpLogoutRevokesLeases": false } }', FILE)
    expect(off.ok && off.policy.idpLogoutRevokesLeases).toBe(false)
    const unset = loadPolicy('{ "sessions": {} }', FILE)
    expect(unset.ok && unset.policy.idpLogoutRevokesLeases).toBe(true)
  })

  it('in-file tests with every field, and their defaults', () => {
    const { doc, codes } = read(`{ "tests": [
  { "user": "a@example.com", "idp": "corp", "groups": ["g"], "amr": ["pwd"], "acr": "c", "gateways": ["eu-1"], "verdict": "mfa", "stepUp": "totp", "authAge": "5m", "expect": { "allow": ["eu-1:*"], "ttl": "1h" } },
  { "user": "b@example.com", "expect": { "deny": "ASSURANCE_UNMET", "stepUp": "mfa" } },
  { "user": "c@example.com", "authAge": null, "expect": { "deny": "NO_MATCHING_GRANT" } },
  { "user": "d@example.com", "authAge": "0s", "expect": { "deny": "DENIED_BY_RULE" } },
  { "user": "e@example.com", "authAge": "0m", "expect": { "deny": "DENIED_BY_RULE" } },
] }`)
    expect(codes).toEqual([])
    expect(doc.tests.map(({ at: _, expect: { at: __, ...e }, ...t }) => ({ ...t, expect: e }))).toEqual([
      {
        id: 'tests[0]',
        user: 'a@example.com',
        idp: 'corp',
        groups: ['g'],
        amr: ['pwd'],
        acr: 'c',
        authAgeMs: 300_000,
        verdict: 'mfa',
        stepUp: 'totp',
        gateways: ['eu-1'],
        expect: {
          allow: [expect.objectContaining({ value: { gateway: 'eu-1', route: '*' } })],
          ttlMs: 3_600_000,
          deny: null,
          stepUp: null,
        },
      },
      {
        id: 'tests[1]',
        user: 'b@example.com',
        idp: 'test',
        groups: [],
        amr: [],
        acr: null,
        authAgeMs: 0,
        verdict: null,
        stepUp: null,
        gateways: null,
        expect: {
          allow: null,
          ttlMs: null,
          deny: 'ASSURANCE_UNMET',
          stepUp: expect.objectContaining({ value: 'mfa' }),
        },
      },
      expect.objectContaining({
        id: 'tests[2]',
        authAgeMs: null,
        expect: expect.objectContaining({ deny: 'NO_MATCHING_GRANT' }),
      }),
      expect.objectContaining({
        id: 'tests[3]',
        authAgeMs: 0,
        expect: expect.objectContaining({ deny: 'DENIED_BY_RULE' }),
      }),
      // "0s" is no special spelling: zero in any unit is a sign-in at the test's instant.
      expect.objectContaining({ id: 'tests[4]', authAgeMs: 0 }),
    ])
  })

  it('a test with several wrong fields reports every one of them', () => {
    expect(
      read(
        '{ "tests": [ { "user": "a@example.com", "verdict": 1, "groups": "x", "amr": [1], "acr": 5, "gateways": 6, "expect": { "allow": [] } } ] }',
      ).codes,
    ).toEqual([
      'WRONG_TYPE tests[0].verdict',
      'WRONG_TYPE tests[0].groups',
      'WRONG_TYPE tests[0].amr[0]',
      'WRONG_TYPE tests[0].acr',
      'WRONG_TYPE tests[0].gateways',
    ])
  })

  it('a name that is wrong drops its gateway, group or assurance level even when the body is right', () => {
    const { doc, codes } = read(`{
  "gateways": { "EU": { "endpoint": "a.example:1" } },
  "groups": { "teams:eng": [], "group:eng": [] },
  "assurance": { "bad name": { "mfa": true } },
}`)
    expect(codes).toEqual([
      'INVALID_NAME gateways.EU',
      'INVALID_NAME groups["teams:eng"]',
      'INVALID_NAME assurance["bad name"]',
    ])
    expect([doc.gateways, doc.groups.map((g) => g.name), doc.assurance]).toEqual([[], ['group:eng'], []])
  })

  it('onUnmet may say "deny" outright', () => {
    const { doc, codes } = read('{ "grants": [ { "src": [], "dst": [], "onUnmet": "deny" } ] }')
    expect(codes).toEqual([])
    expect(doc.grants.map((g) => g.onUnmet)).toEqual(['deny'])
  })

  it('an in-file test with any wrong field is dropped, so it cannot cause a second, false error', () => {
    const ok = '"user": "a@example.com", "expect": { "deny": "NO_MATCHING_GRANT" }'
    const { doc, codes } = read(`{ "tests": [
  { ${ok} },
  { "user": 5, "expect": { "deny": "NO_MATCHING_GRANT" } },
  { "user": "not-an-email", "expect": { "deny": "NO_MATCHING_GRANT" } },
  { ${ok}, "verdict": "strong" },
  { ${ok}, "stepUp": "sms" },
  { ${ok}, "authAge": "later" },
  { ${ok}, "idp": 4 },
  { ${ok}, "acr": 5 },
  { "user": "a@example.com", "expect": { "deny": 5 } },
  { "user": "a@example.com", "expect": { "deny": "NOPE" } },
  { "user": "a@example.com", "expect": { "allow": [], "ttl": "soon" } },
  { "user": "a@example.com", "expect": { "deny": "ASSURANCE_UNMET", "stepUp": 5 } },
] }`)
    expect(codes).toEqual([
      'WRONG_TYPE tests[1].user',
      'INVALID_VALUE tests[2].user',
      'INVALID_VALUE tests[3].verdict',
      'INVALID_VALUE tests[4].stepUp',
      'INVALID_DURATION tests[5].authAge',
      'WRONG_TYPE tests[6].idp',
      'WRONG_TYPE tests[7].acr',
      'WRONG_TYPE tests[8].expect.deny',
      'INVALID_VALUE tests[9].expect.deny',
      'INVALID_DURATION tests[10].expect.ttl',
      'WRONG_TYPE tests[11].expect.stepUp',
    ])
    expect(doc.tests.map((t) => t.id)).toEqual(['tests[0]'])
  })

  it('an unknown denial code lists the known ones; a zero ttl is refused', () => {
    expect(
      diagnosticsOf(`{ "tests": [
  { "user": "a@example.com", "expect": { "deny": "NOPE" } },
  { "user": "a@example.com", "expect": { "allow": [], "ttl": "0s" } },
] }`),
    ).toEqual([
      [
        2,
        50,
        'tests[0].expect.deny',
        'INVALID_VALUE',
        '"NOPE" is not a denial code',
        'use one of NO_MATCHING_GRANT, DENIED_BY_RULE, ASSURANCE_UNMET',
      ],
      [
        3,
        62,
        'tests[1].expect.ttl',
        'INVALID_DURATION',
        'ttl must be positive',
        'durations look like 8h, 15m, 1h30m, 90s or 2d',
      ],
    ])
  })

  it('no document at all (an empty file) is the empty policy', () => {
    expect(read('// nothing\n').doc).toEqual({
      network: null,
      gateways: [],
      groups: [],
      assurance: [],
      grants: [],
      deny: [],
      admins: [],
      leases: null,
      sessions: { idpLogoutRevokesLeases: null },
      tests: [],
    })
    expect(read('[]').doc.grants).toEqual([])
  })
})

describe('the rest of the wording', () => {
  it('a transposition is two edits, and still a near miss', () => {
    expect(diagnosticsOf('{ "sessoins": {} }').map((r) => r[5])).toEqual(['did you mean "sessions"?'])
  })

  it('leases.maxPerUser says which numbers it takes', () => {
    const hint = 'a whole number from 1 to 1000 (default 10)'
    expect(diagnosticsOf('{ "leases": { "maxPerUser": "3" } }')).toEqual([
      [1, 29, 'leases.maxPerUser', 'WRONG_TYPE', 'expected a number, got a string', hint],
    ])
    expect(diagnosticsOf('{ "leases": { "maxPerUser": 0 } }')).toEqual([
      [1, 29, 'leases.maxPerUser', 'INVALID_LEASE_LIMIT', 'leases.maxPerUser 0 is out of range', hint],
    ])
  })

  it('an assurance level that requires nothing, and amrAny of the wrong type', () => {
    expect(diagnosticsOf('{ "assurance": { "none": {}, "hw": { "amrAny": "hwk" } } }')).toEqual([
      [
        1,
        26,
        'assurance.none',
        'EMPTY_ASSURANCE',
        'assurance level "none" requires nothing',
        'set at least one of mfa, amrAny, acrAny, maxAuthAge',
      ],
      [
        1,
        48,
        'assurance.hw.amrAny',
        'WRONG_TYPE',
        'expected an array of strings, got a string',
        'RFC 8176 amr values, e.g. ["hwk", "mfa"]',
      ],
    ])
  })

  it('a test names its user by email', () => {
    expect(
      diagnosticsOf('{ "tests": [ { "user": "bob", "expect": { "deny": "NO_MATCHING_GRANT" } } ] }'),
    ).toEqual([
      [
        1,
        24,
        'tests[0].user',
        'INVALID_VALUE',
        '"bob" is not an email address',
        'tests name the user by email',
      ],
    ])
  })

  it('a test without a user is dropped', () => {
    const { doc, codes } = read('{ "tests": [ { "expect": { "deny": "NO_MATCHING_GRANT" } } ] }')
    expect(codes).toEqual(['MISSING_KEY tests[0]'])
    expect(doc.tests).toEqual([])
  })
})
