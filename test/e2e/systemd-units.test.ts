// The service units in packaging/systemd pass `systemd-analyze verify` without a warning (an unknown or
// misspelt key is only a warning to systemd, so any output fails), and keep the hardening they promise:
// the broker has no capability at all, the agent CAP_NET_ADMIN alone. systemd-analyze comes with the
// `systemd` package (.ci/run installs it); under CI=true a missing tool fails instead of skipping.
import { execFile } from 'node:child_process'
import { copyFile, mkdtemp, readFile, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const UNITS = fileURLToPath(new URL('../../packaging/systemd/', import.meta.url))

function run(file: string, args: string[]) {
  return new Promise<{ code: number; output: string }>((resolve) => {
    execFile(file, args, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 127
      resolve({ code, output: `${stdout}${stderr}`.trim() })
    })
  })
}

const available = (await run('systemd-analyze', ['--version'])).code === 0
if (!available && process.env.CI === 'true')
  throw new Error('systemd-analyze is missing: install the systemd package (see .ci/run)')

/** The unit's [Service] settings, a key with several lines giving several values. */
async function serviceSettings(name: string): Promise<Map<string, string[]>> {
  const text = await readFile(join(UNITS, name), 'utf8')
  const section = text.split(/^\[Service\]$/m)[1]?.split(/^\[/m)[0] ?? ''
  const settings = new Map<string, string[]>()
  for (const line of section.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line)
    if (match === null) continue
    settings.set(match[1]!, [...(settings.get(match[1]!) ?? []), match[2]!])
  }
  return settings
}

describe.skipIf(!available)('systemd units', () => {
  it('pass systemd-analyze verify with no warning (the template as instance wg0)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keygate-units-'))
    try {
      await copyFile(join(UNITS, 'keygate.service'), join(dir, 'keygate.service'))
      await copyFile(join(UNITS, 'keygate-gateway@.service'), join(dir, 'keygate-gateway@.service'))
      await symlink('keygate-gateway@.service', join(dir, 'keygate-gateway@wg0.service'))
      const result = await run('systemd-analyze', [
        'verify',
        '--man=no',
        join(dir, 'keygate.service'),
        join(dir, 'keygate-gateway@wg0.service'),
      ])
      expect(result).toEqual({ code: 0, output: '' })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('run the broker as a dynamic user without capabilities, and the agent with CAP_NET_ADMIN only', async () => {
    const broker = await serviceSettings('keygate.service')
    const agent = await serviceSettings('keygate-gateway@.service')
    for (const unit of [broker, agent]) {
      expect(unit.get('ProtectSystem')).toEqual(['strict'])
      expect(unit.get('NoNewPrivileges')).toEqual(['yes'])
      expect(unit.get('StateDirectory')).toHaveLength(1)
      expect(unit.get('LimitNOFILE')).toHaveLength(1)
      expect(unit.get('Restart')?.[0]).toMatch(/^(always|on-failure)$/)
    }
    expect(broker.get('DynamicUser')).toEqual(['yes'])
    expect(broker.get('CapabilityBoundingSet')).toEqual([''])
    expect(broker.get('AmbientCapabilities')).toEqual([''])
    expect(Number(broker.get('LimitNOFILE')?.[0])).toBeGreaterThanOrEqual(65536)
    expect(agent.get('CapabilityBoundingSet')).toEqual(['CAP_NET_ADMIN'])
    expect(agent.get('AmbientCapabilities')).toEqual(['CAP_NET_ADMIN'])
    expect(agent.get('ExecStart')?.[0]).toContain('keygate-gateway.mjs')
    expect(agent.get('ExecStart')?.[0]).toContain('--interface %i')
  })
})
