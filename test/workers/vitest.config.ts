// The Worker suite as its own vitest project. The root vitest.config.ts lists it with
// `projects: [..., 'test/workers/vitest.config.ts']`; alone: `npx vitest run --config test/workers/vitest.config.ts`.
// It needs PostgreSQL (the Worker has no embedded database) and starts workerd, so files run one by one.
import { fileURLToPath } from 'node:url'
import { defineProject } from 'vitest/config'

export default defineProject({
  // The repository root, however vitest was started, so paths mean the same in both uses.
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    name: 'workers',
    include: ['test/workers/**/*.test.ts'],
    dir: fileURLToPath(new URL('../..', import.meta.url)),
    env: {
      KEYGATE_TEST_DB: 'postgres',
      WRANGLER_SEND_METRICS: 'false',
      WRANGLER_SEND_ERROR_REPORTS: 'false',
      WRANGLER_HIDE_BANNER: 'true',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    },
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
})
