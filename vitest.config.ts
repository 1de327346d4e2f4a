import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./src/polyfills.ts'],
    reporters: ['default', './test/helpers/plain-summary-reporter.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: one fork per core keeps timing-sensitive network tests honest.
    maxWorkers: 2
  }
})
