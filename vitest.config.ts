import { defineConfig } from 'vitest/config'

// Three layers, as DESIGN.md's test strategy says. The integration suite runs twice, once per database,
// selected by KEYGATE_TEST_DB; e2e needs root, wireguard-go, wg and Chromium (installed by .ci/run).
export default defineConfig({
  test: {
    projects: [
      // The Worker in workerd (wrangler's local runtime) against PostgreSQL and oidc-provider: see docs/workers.md.
      'test/workers/vitest.config.ts',
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/architecture.test.ts', 'test/golden/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration-pglite',
          include: ['test/integration/**/*.test.ts'],
          env: { KEYGATE_TEST_DB: 'pglite' },
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'integration-postgres',
          include: ['test/integration/**/*.test.ts'],
          env: { KEYGATE_TEST_DB: 'postgres' },
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        // Faults made for real: a PostgreSQL cluster of the test's own stopped and restarted under the
        // broker, broker processes killed with signals (test/support/pg-cluster.ts).
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
})
