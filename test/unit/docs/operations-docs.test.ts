// docs/operations.md documents every metric the broker registers, and the Grafana dashboard in
// packaging/grafana queries only metrics that exist: a metric added without a line of meaning, or a
// dashboard left behind by a rename, fails here.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : [join(dir, e.name)])),
  )
  return nested.flat().filter((f) => /\.tsx?$/.test(f))
}

/** Names passed to the metrics registry (count/gauge) and the histogram's name, from the sources. */
async function registeredMetrics(): Promise<Set<string>> {
  const names = new Set<string>()
  for (const file of await sourceFiles(join(ROOT, 'src'))) {
    const text = await readFile(file, 'utf8')
    for (const match of text.matchAll(/(?:count|gauge)\(\s*'(keygate_[a-z_]+)'/g)) names.add(match[1]!)
    for (const match of text.matchAll(/# TYPE (keygate_[a-z_]+) /g)) names.add(match[1]!)
  }
  return names
}

it('documents every registered metric in docs/operations.md', async () => {
  const doc = await readFile(join(ROOT, 'docs/operations.md'), 'utf8')
  const metrics = await registeredMetrics()
  expect(metrics.size).toBeGreaterThanOrEqual(5)
  const undocumented = [...metrics].filter((name) => !doc.includes(`| \`${name}\` |`))
  expect(undocumented).toEqual([])
})

it('the Grafana dashboard parses and queries only registered metrics', async () => {
  const dashboard = JSON.parse(
    await readFile(join(ROOT, 'packaging/grafana/keygate-dashboard.json'), 'utf8'),
  ) as { panels: Array<{ targets: Array<{ expr: string }> }> }
  const metrics = await registeredMetrics()
  const queried = dashboard.panels.flatMap((p) =>
    p.targets.flatMap((t) => [...t.expr.matchAll(/keygate_[a-z_]+/g)].map((m) => m[0])),
  )
  expect(queried.length).toBeGreaterThan(0)
  const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '')
  expect(queried.filter((name) => !metrics.has(name) && !metrics.has(base(name)))).toEqual([])
})
