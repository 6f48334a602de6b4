import { defineConfig } from 'vitest/config'

// The unit layer alone, for StrykerJS (`npm run mutation`): core is pure, so its own tests must kill its mutants.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/golden/**/*.test.ts'],
  },
})
