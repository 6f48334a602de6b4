// Golden decisions: each directory under test/golden/policy/ holds a policy, a request and the decision
// it must give (plus whether the subject is an admin). UPDATE_GOLDEN=1 rewrites decision.json; review
// the diff before committing, since the files are the specification of the semantics.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Subject } from '../../src/core/model.ts'
import { evaluatePolicy, formatDiagnostic, isPolicyAdmin, loadPolicy } from '../../src/core/policy/index.ts'

const ROOT = 'test/golden/policy'
const UPDATE = process.env.UPDATE_GOLDEN === '1'
const cases = readdirSync(ROOT, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort()

interface GoldenRequest {
  now: number
  subject: Subject
  gateways?: string[]
}

describe('golden policy decisions', () => {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15)
  })

  it.each(cases)('%s', (name) => {
    const dir = join(ROOT, name)
    const file = join(dir, 'policy.hujson')
    const loaded = loadPolicy(readFileSync(file, 'utf8'), file)
    if (!loaded.ok) throw new Error(loaded.errors.map(formatDiagnostic).join('\n'))
    const request = JSON.parse(readFileSync(join(dir, 'request.json'), 'utf8')) as GoldenRequest
    const actual = {
      decision: evaluatePolicy(
        loaded.policy,
        { subject: request.subject, gateways: request.gateways },
        request.now,
      ),
      isAdmin: isPolicyAdmin(loaded.policy, request.subject),
    }
    const goldenPath = join(dir, 'decision.json')
    if (UPDATE) {
      writeFileSync(goldenPath, `${JSON.stringify(actual, null, 2)}\n`)
      // Written as the repository's formatter would, so `npm run lint` stays clean after an update.
      spawnSync('node_modules/.bin/biome', ['format', '--write', goldenPath], { stdio: 'ignore' })
    }
    expect(existsSync(goldenPath), `${goldenPath} is missing; run with UPDATE_GOLDEN=1 and review it`).toBe(
      true,
    )
    expect(actual).toEqual(JSON.parse(readFileSync(goldenPath, 'utf8')))
  })
})
