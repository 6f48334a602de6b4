// Dependencies point inward: core imports nothing from a runtime, a framework or a driver
// (tailscale's deptest does the same). The check reads every file under src/core: an allow-list of the
// pure libraries core may use, so a new dependency in core is a decision, not an accident.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const FORBIDDEN_IMPORTS = [
  /^node:/,
  /^hono/,
  /^@hono\//,
  /^drizzle-orm/,
  /^postgres$/,
  /^@electric-sql\//,
  /^openid-client/,
  /^oidc-provider/,
  /^\.\.\/(\.\.\/)*(adapters|entrypoints)\//,
]
const ALLOWED_PACKAGES = [/^@noble\/(curves|hashes)\//, /^jsonc-parser$/]
const FORBIDDEN_GLOBALS = [
  /\bprocess\./,
  /\bDate\.now\(/,
  /\bnew Date\(\)/,
  /\bfetch\(/,
  /\bconsole\./,
  /\bMath\.random\(/,
]

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? filesUnder(path) : /\.tsx?$/.test(entry.name) ? [path] : []
  })
}

function importsOf(source: string): string[] {
  return [
    ...source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g),
    // Side-effect imports (`import 'node:fs'`) have no `from`.
    ...source.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g),
  ].map((m) => m[1]!)
}

describe('core is pure', () => {
  const files = filesUnder('src/core')

  it('has files to check', () => {
    expect(files.length).toBeGreaterThan(3)
  })

  it.each(files)('%s imports nothing outside core', (file) => {
    const bad = importsOf(readFileSync(file, 'utf8')).filter((spec) =>
      FORBIDDEN_IMPORTS.some((re) => re.test(spec)),
    )
    expect(bad).toEqual([])
  })

  it.each(files)('%s uses only the pure packages core may use', (file) => {
    const packages = importsOf(readFileSync(file, 'utf8')).filter((spec) => !spec.startsWith('.'))
    expect(packages.filter((spec) => !ALLOWED_PACKAGES.some((re) => re.test(spec)))).toEqual([])
  })

  it.each(files)('%s uses no runtime globals', (file) => {
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
    const bad = FORBIDDEN_GLOBALS.filter((re) => re.test(code)).map(String)
    expect(bad).toEqual([])
  })

  it('the checker itself catches a forbidden import', () => {
    const sample = "import { Hono } from 'hono'\nimport x from 'node:fs'\nimport { y } from './y.ts'"
    expect(importsOf(sample).filter((spec) => FORBIDDEN_IMPORTS.some((re) => re.test(spec)))).toEqual([
      'hono',
      'node:fs',
    ])
  })
})

/**
 * Where a core file lives, for the layering rule: the shared vocabulary (errors, model), the ports and the
 * configuration at core's root, one area per subdirectory.
 */
function coreAreaOf(file: string): string {
  const rel = relative('src/core', file)
  const [first] = rel.split('/')
  return rel.includes('/') ? first! : rel.replace(/\.ts$/, '')
}

/**
 * The direction of dependencies inside core, as it is, each with its reason. An area not named here may
 * import only the shared vocabulary. A new arrow is a design decision: add it here with its reason.
 */
const CORE_LAYERS: Record<string, { may: string[]; why: string }> = {
  errors: { may: [], why: 'the one error type is the bottom of everything' },
  model: { may: ['errors'], why: 'the domain nouns are shared by every area' },
  ports: {
    may: ['errors', 'model', 'limits'],
    why: 'ports speak the domain nouns; the rate-limit port takes its bucket and decision types',
  },
  'audit-event': {
    may: ['errors', 'model', 'ports'],
    why: "the one audit-event builder fills the store port's record from the registry in model",
  },
  config: {
    may: ['errors', 'identity', 'limits'],
    why: 'configuration validates IdP settings and rate rules with the rules of those areas',
  },
  identity: { may: ['errors', 'model'], why: 'claims to a verdict needs nothing but the vocabulary' },
  peers: { may: ['errors', 'model', 'ports'], why: 'keys, addresses and configs are leaf rules' },
  limits: { may: ['errors', 'model'], why: 'fixed windows are arithmetic on the vocabulary' },
  'step-up': {
    may: ['errors', 'model', 'ports', 'audit-event', 'identity', 'peers'],
    why: 'second-factor rules use the factor ports; what a factor proves is an identity fact (amr); ids and challenges are base64; attempts are audited',
  },
  policy: {
    may: ['errors', 'model', 'ports', 'peers', 'identity'],
    why: 'policy reads CIDRs with the peers grammar and verdicts from identity; it never issues',
  },
  sync: {
    may: ['errors', 'model', 'ports', 'peers'],
    why: 'the gateway protocol and agent state use key and prefix rules; they never judge policy',
  },
  broker: {
    may: [
      'errors',
      'model',
      'ports',
      'audit-event',
      'config',
      'identity',
      'peers',
      'limits',
      'step-up',
      'policy',
      'sync',
    ],
    why: 'the use cases compose every rule; nothing below may import them back',
  },
  device: {
    may: ['errors', 'model', 'ports', 'audit-event', 'peers', 'policy', 'broker'],
    why: "the terminal client's sign-in and credentials reuse the broker's issuance and renewal; nothing imports it",
  },
}

describe('core layers point one way', () => {
  const files = filesUnder('src/core')

  it.each(files)('%s imports only the areas below its own', (file) => {
    const area = coreAreaOf(file)
    const rule = CORE_LAYERS[area] ?? { may: ['errors', 'model'], why: 'an area with no rule yet' }
    const crossings = importsOf(readFileSync(file, 'utf8'))
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => coreAreaOf(normalize(join(dirname(file), spec))))
      .filter((target) => target !== area && !rule.may.includes(target))
    expect(crossings, `${area} may import ${rule.may.join(', ')}: ${rule.why}`).toEqual([])
  })
})

/**
 * Workers run what the Worker entrypoint imports. workerd has no filesystem, sockets or processes, so a
 * `node:*` import that reaches the bundle would fail only when deployed; the ones workerd provides under
 * `nodejs_compat` are listed with their use.
 */
const WORKER_NODE_BUILTINS: Record<string, string> = {
  'node:async_hooks': 'AsyncLocalStorage scopes the per-request database connection (request-scope.ts)',
}

function importGraphFrom(entry: string): { files: string[]; builtins: Array<[string, string]> } {
  const seen = new Set<string>()
  const builtins: Array<[string, string]> = []
  const stack = [entry]
  while (stack.length > 0) {
    const file = stack.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    const source = readFileSync(file, 'utf8')
    const dynamic = [...source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!)
    for (const spec of [...importsOf(source), ...dynamic]) {
      if (spec.startsWith('node:')) builtins.push([file, spec])
      else if (spec.startsWith('.')) stack.push(normalize(join(dirname(file), spec)))
    }
  }
  return { files: [...seen], builtins }
}

describe('code bundled for Workers', () => {
  const graph = importGraphFrom('src/entrypoints/worker.ts')

  it('reaches the shared app and core (the walk follows imports)', () => {
    expect(graph.files).toContain('src/entrypoints/compose-app.ts')
    expect(graph.files.some((f) => f.startsWith('src/core/'))).toBe(true)
  })

  it('imports no Node built-in that workerd lacks', () => {
    const unexpected = graph.builtins.filter(([, spec]) => WORKER_NODE_BUILTINS[spec] === undefined)
    expect(unexpected).toEqual([])
  })
})

/**
 * Route modules are leaves of the HTTP seam. Each builds its routes from what every request carries
 * (app-env.ts) and the shared helpers (request.ts, session-middleware.ts, return-to.ts, …), so it can be
 * read, tested and changed alone. A route importing app.ts would be a cycle (app.ts mounts every route);
 * a route importing another ties two routes' changes together, which is how helpers used to hide in
 * whichever route first needed them.
 */
const APP_MODULE = 'src/adapters/http/app.ts'
const ROUTES_DIR = 'src/adapters/http/routes/'

function routeImportViolations(file: string, source: string): string[] {
  return importsOf(source)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => normalize(join(dirname(file), spec)))
    .filter((target) => target === APP_MODULE || (target.startsWith(ROUTES_DIR) && target !== file))
}

describe('route modules stand alone', () => {
  const routes = filesUnder(ROUTES_DIR)

  it('has route modules to check', () => {
    expect(routes.length).toBeGreaterThan(3)
  })

  it.each(routes)('%s imports neither app.ts nor another route module', (file) => {
    expect(routeImportViolations(file, readFileSync(file, 'utf8'))).toEqual([])
  })

  it('the checker catches a route importing app.ts or another route module', () => {
    const sample = [
      "import type { AppEnv } from '../app.ts'",
      "import { readJson } from './peer-routes.ts'",
      "import { requireSession } from '../request.ts'",
      "import type { AppEnv as Env } from '../app-env.ts'",
    ].join('\n')
    expect(routeImportViolations(`${ROUTES_DIR}gateway-routes.ts`, sample)).toEqual([
      APP_MODULE,
      `${ROUTES_DIR}peer-routes.ts`,
    ])
  })
})

/**
 * Route factories take their dependencies. Each route module exports `xxxRoutes(deps)` with only the
 * dependencies it uses, and app.ts hands them over when it mounts the group; handlers close over them.
 * Reading them from the request (`c.get('deps')`) would make every route able to reach everything the
 * app holds, hide what a route needs from its signature, and let a route be mounted without what it
 * uses and fail only when a request arrives. The whole HTTP adapter is checked, helpers included.
 */
const HTTP_DIR = 'src/adapters/http/'
const DEPS_FROM_REQUEST = /\.get\(\s*['"`](deps|sessions)['"`]\s*\)|\.var\.(deps|sessions)\b/g

function depsFromRequest(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
  return [...code.matchAll(DEPS_FROM_REQUEST)].map((m) => m[0])
}

describe('route factories take their dependencies', () => {
  const files = filesUnder(HTTP_DIR).filter((f) => !f.endsWith('.gen.ts'))

  it('has HTTP modules to check', () => {
    expect(files.filter((f) => f.startsWith(ROUTES_DIR)).length).toBeGreaterThan(3)
  })

  it.each(files)('%s reads no dependency from the request', (file) => {
    expect(depsFromRequest(readFileSync(file, 'utf8'))).toEqual([])
  })

  it('the checker catches a dependency read from the request, not the session', () => {
    const sample = [
      "const deps = c.get('deps')",
      'const { broker } = c.var.deps',
      "c.get('sessions').forget(id)",
      "const session = c.get('session')",
      "// c.get('deps') in a comment is fine",
    ].join('\n')
    expect(depsFromRequest(sample)).toEqual([".get('deps')", '.var.deps', ".get('sessions')"])
  })
})

/**
 * Pages and routes take error statuses only from the one status table (adapters/http/errors.ts:
 * STATUS_OF, and NOT_READY_STATUS for readiness). A status written beside a page drifts from the one the
 * API gives for the same code (a step-up page once answered 403 where the API said 401), and a client
 * that reads the status (the CLI, step-up.js, a monitor) then sees two answers to one outcome. A numeric
 * literal from 400 to 599 in a route or page module fails this; 2xx and 3xx (201 Created, 303 See Other)
 * are outcomes of success and stay literal.
 */
const PAGES_DIR = 'src/adapters/http/pages/'
const ERROR_STATUS_LITERAL = /(?<![\w.$])[45]\d\d(?![\w.])/g

function errorStatusLiterals(source: string): string[] {
  // Comments go (they cite RFCs' statuses); `://` in a URL is not a comment.
  const code = source.replace(/\/\*[\s\S]*?\*\/|(?<!:)\/\/.*$/gm, '')
  return [...code.matchAll(ERROR_STATUS_LITERAL)].map((m) => m[0])
}

describe('pages and routes take error statuses from the status table', () => {
  const files = [...filesUnder(ROUTES_DIR), ...filesUnder(PAGES_DIR)]

  it('has route and page modules to check', () => {
    expect(files.filter((f) => f.startsWith(PAGES_DIR)).length).toBeGreaterThan(3)
  })

  it.each(files)('%s writes no 4xx or 5xx status of its own', (file) => {
    expect(errorStatusLiterals(readFileSync(file, 'utf8'))).toEqual([])
  })

  it('the checker catches error statuses, not successes, comments, names or longer numbers', () => {
    const sample = [
      'return renderPage(c, page, 404)',
      "c.json({ error: 'invalid_request' }, 400)",
      'status: 200 | 401 | 503,',
      'return c.json(body, 201)',
      "return c.redirect('/', 303)",
      '// RFC 6749: a 400 with an OAuth error body',
      'const limit = 1000, ms = 60_000, x = STATUS_OF.NOT_FOUND, s = v4004',
      "fetch('https://example.com/404')",
    ].join('\n')
    expect(errorStatusLiterals(sample)).toEqual(['404', '400', '401', '503', '404'])
  })
})
