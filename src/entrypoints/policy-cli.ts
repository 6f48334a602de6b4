/**
 * `keygate policy check [file]` and `keygate policy explain …`: the policy engine for people and for CI.
 * The main CLI dispatches here; I/O comes in through `io` so tests drive these without a process.
 */
import { parseArgs } from 'node:util'
import { parseStepUp, STEP_UP_TOKENS } from '../core/identity/step-up-proof.ts'
import { isVerdict, type Subject, VERDICTS } from '../core/model.ts'
import {
  compilePolicySource,
  deriveTestVerdict,
  explainDecision,
  formatDiagnostic,
  formatDuration,
  loadPolicy,
  parseDuration,
  renderExplanation,
} from '../core/policy/index.ts'

export interface PolicyCliIo {
  stdout(text: string): void
  stderr(text: string): void
  readFile(path: string): string | Promise<string>
  /** Defaults to process.env; read for KEYGATE_POLICY. */
  env?: Record<string, string | undefined>
  /** Defaults to the system clock; explain evaluates at this instant. */
  now?: () => number
}

const DEFAULT_POLICY_PATH = 'policies/policy.hujson'

function defaultFile(io: PolicyCliIo): string {
  return (io.env ?? process.env).KEYGATE_POLICY || DEFAULT_POLICY_PATH
}

async function readPolicyFile(path: string, io: PolicyCliIo): Promise<string | null> {
  try {
    return await io.readFile(path)
  } catch (error) {
    io.stderr(
      `keygate policy: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}\n`,
    )
    return null
  }
}

const CHECK_USAGE =
  'usage: keygate policy check [FILE]   (default: $KEYGATE_POLICY or policies/policy.hujson)\n'

/** Exit 0 when the policy loads and all its tests pass, 1 otherwise; errors go to stderr, one per line. */
export async function runPolicyCheck(argv: string[], io: PolicyCliIo): Promise<number> {
  let positionals: string[]
  try {
    ;({ positionals } = parseArgs({ args: argv, allowPositionals: true, options: {}, strict: true }))
  } catch (error) {
    io.stderr(`keygate policy check: ${(error as Error).message}\n${CHECK_USAGE}`)
    return 1
  }
  if (positionals.length > 1) {
    io.stderr(CHECK_USAGE)
    return 1
  }
  const file = positionals[0] ?? defaultFile(io)
  const source = await readPolicyFile(file, io)
  if (source === null) return 1
  const result = loadPolicy(source, file)
  if (!result.ok) for (const error of result.errors) io.stderr(`${formatDiagnostic(error)}\n`)
  for (const warning of result.warnings) io.stderr(`${formatDiagnostic(warning)}\n`)
  const tests = result.testResults ?? []
  const passed = tests.filter((t) => t.passed).length
  if (!result.ok) {
    const testNote = result.testResults === undefined ? '' : `; tests: ${passed} of ${tests.length} passed`
    io.stderr(
      `${file}: ${result.errors.length} error${result.errors.length === 1 ? '' : 's'}${testNote}; the policy would not go live\n`,
    )
    return 1
  }
  const p = result.policy
  io.stdout(
    `${file}: OK (${p.grants.length} grants, ${p.gateways.size} gateways, ${passed}/${tests.length} tests passed, ` +
      `${result.warnings.length} warnings, sha256 ${p.hash.slice(0, 12)})\n`,
  )
  return 0
}

const EXPLAIN_USAGE = `usage: keygate policy explain --user EMAIL [--idp ID] [--groups a,b] [--amr pwd,mfa] [--acr X]
       [--auth-age 10m] [--verdict mfa|single|unknown] [--step-up totp|webauthn|webauthn:hwk] [--gateways eu-1,us-1]
       [--file FILE] [--json]
`

function list(value: string | undefined): string[] {
  return value === undefined
    ? []
    : value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
}

/** Prints the decision for a synthetic sign-in and why. Exit 0 when it could explain (allow or deny), 1 on bad input. */
export async function runPolicyExplain(argv: string[], io: PolicyCliIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        user: { type: 'string' },
        idp: { type: 'string' },
        groups: { type: 'string' },
        amr: { type: 'string' },
        acr: { type: 'string' },
        'auth-age': { type: 'string' },
        verdict: { type: 'string' },
        'step-up': { type: 'string' },
        gateways: { type: 'string' },
        file: { type: 'string' },
        json: { type: 'boolean' },
      },
    }))
  } catch (error) {
    io.stderr(`keygate policy explain: ${(error as Error).message}\n${EXPLAIN_USAGE}`)
    return 1
  }
  const str = (key: string) => (typeof values[key] === 'string' ? (values[key] as string) : undefined)
  const user = str('user')
  if (user === undefined) {
    io.stderr(`keygate policy explain: --user is required\n${EXPLAIN_USAGE}`)
    return 1
  }
  const ageText = str('auth-age') ?? '0s'
  const authAgeMs = parseDuration(ageText)
  if (authAgeMs === null) {
    io.stderr(`keygate policy explain: --auth-age "${ageText}" is not a duration (e.g. 10m, 1h30m)\n`)
    return 1
  }
  const verdict = str('verdict')
  if (verdict !== undefined && !isVerdict(verdict)) {
    io.stderr(`keygate policy explain: --verdict must be ${VERDICTS.join(', ')}\n`)
    return 1
  }
  const stepUp = str('step-up') ?? null
  if (stepUp !== null && parseStepUp(stepUp) === null) {
    io.stderr(`keygate policy explain: --step-up must be one of ${STEP_UP_TOKENS.join(', ')}\n`)
    return 1
  }

  const file = str('file') ?? defaultFile(io)
  const source = await readPolicyFile(file, io)
  if (source === null) return 1
  const compiled = compilePolicySource(source, file)
  if (compiled.policy === null) {
    for (const error of compiled.errors) io.stderr(`${formatDiagnostic(error)}\n`)
    io.stderr(`${file}: the policy has errors; fix them first (keygate policy check)\n`)
    return 1
  }
  if (compiled.errors.length > 0) {
    io.stderr(
      `note: ${compiled.errors.length} in-file test(s) fail, so this policy would not go live; explaining anyway\n`,
    )
  }

  const now = (io.now ?? Date.now)()
  const amr = list(str('amr'))
  const idpId = (str('idp') ?? 'cli').toLowerCase()
  const subject: Subject = {
    idpId,
    issuer: `cli:${idpId}`,
    subject: user,
    email: user,
    groups: list(str('groups')),
    auth: {
      verdict: verdict !== undefined && isVerdict(verdict) ? verdict : deriveTestVerdict(amr),
      amr,
      acr: str('acr') ?? null,
      acrs: [],
      authTime: Math.floor((now - authAgeMs) / 1000),
      stepUp,
    },
  }
  const gateways = list(str('gateways'))
  const explanation = explainDecision(
    compiled.policy,
    { subject, ...(gateways.length > 0 ? { gateways } : {}) },
    now,
  )
  if (values.json === true) io.stdout(`${JSON.stringify(explanation, null, 2)}\n`)
  else {
    io.stdout(renderExplanation(explanation))
    if (verdict === undefined) {
      io.stdout(
        `(verdict "${subject.auth.verdict}" derived from amr; pass --verdict to override; auth age ${formatDuration(authAgeMs)})\n`,
      )
    }
  }
  return 0
}
