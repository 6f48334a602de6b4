// Shared fixtures for policy tests: marked sources (a » marks where a diagnostic must point) and subjects.
import type { AuthFacts, Subject } from '../../../src/core/model.ts'
import { type CompiledPolicy, loadPolicy } from '../../../src/core/policy/index.ts'

export const FILE = 'policies/test.hujson'
export const NOW = 1_800_000_000_000

/** Removes every » from the text and returns the 1-based line and column of each. */
export function marked(text: string): { source: string; marks: Array<{ line: number; col: number }> } {
  const marks: Array<{ line: number; col: number }> = []
  let source = ''
  let line = 1
  let col = 1
  for (const ch of text) {
    if (ch === '»') {
      marks.push({ line, col })
      continue
    }
    source += ch
    if (ch === '\n') {
      line++
      col = 1
    } else {
      col++
    }
  }
  return { source, marks }
}

export function compile(source: string): CompiledPolicy {
  const result = loadPolicy(source, FILE)
  if (!result.ok)
    throw new Error(
      result.errors.map((e) => `${e.line}:${e.col} ${e.path} ${e.code} ${e.message}`).join('\n'),
    )
  return result.policy
}

export function subject(
  email: string | null,
  auth: Partial<AuthFacts> = {},
  extra: { groups?: string[]; idpId?: string } = {},
): Subject {
  return {
    idpId: extra.idpId ?? 'okta',
    issuer: 'https://idp.example',
    subject: email ?? 'anon',
    email,
    groups: extra.groups ?? [],
    auth: {
      verdict: 'mfa',
      amr: ['pwd', 'otp'],
      acr: null,
      acrs: [],
      authTime: Math.floor(NOW / 1000) - 60,
      stepUp: null,
      ...auth,
    },
  }
}

/** A small valid policy to build cases on. */
export const BASE = `{
  "network": { "ipv4": "100.96.0.0/16", "ipv6": "fd7a:115c:a1e0::/64" },
  "gateways": {
    "eu-1": { "endpoint": "eu-1.vpn.example.com:51820", "routes": { "prod": ["10.10.0.0/16"], "office": ["192.168.10.0/24"] } },
    "us-1": { "endpoint": "us-1.vpn.example.com:51820", "routes": { "prod": ["10.20.0.0/16"] } },
  },
  "groups": { "group:eng": ["idp:*:engineering", "user:alice@example.com"] },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "1h" } },
  "grants": [ { "src": ["group:eng"], "dst": ["eu-1:*"], "assurance": "mfa" } ],
}`
