import { defineConfig } from 'vitest/config'

// `PETAL_TEST_CPU_LOG=file vitest run` records each test file's CPU time (scripts/suite-cpu.ts).
const cpuLog = process.env.PETAL_TEST_CPU_LOG

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./src/polyfills.ts', './test/helpers/worker-bundles.ts', ...(cpuLog !== undefined && cpuLog !== '' ? ['./test/helpers/cpu-meter.ts'] : [])],
    reporters: ['default', './test/helpers/plain-summary-reporter.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: one fork per core keeps timing-sensitive network tests honest.
    maxWorkers: 2
  }
})
