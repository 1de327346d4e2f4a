import { defineConfig } from 'vitest/config'

// `PETAL_TEST_CPU_LOG=file vitest run` records each test file's CPU time (scripts/suite-cpu.ts).
const cpuLog = process.env.PETAL_TEST_CPU_LOG

// Node parses the certificate bundle NODE_EXTRA_CA_CERTS names in every process it starts, before
// any JavaScript: ~50 ms of CPU a process for this machine's 220 KB system bundle, in each of the
// suite's thousands of CLI runs, nodes and other children (docs/performance/suite.md, "Session 56:
// the certificate bundle, and one browser a run tried (suite56)"). Nothing the suite runs makes a TLS
// connection, so the run's processes go without it.
delete process.env.NODE_EXTRA_CA_CERTS

export default defineConfig({
  test: {
    setupFiles: ['./src/polyfills.ts', './test/helpers/setup.ts', './test/helpers/entry-bundles.ts', ...(cpuLog !== undefined && cpuLog !== '' ? ['./test/helpers/cpu-meter.ts'] : [])],
    reporters: ['default', './test/helpers/plain-summary-reporter.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Three forks on two cores: the integration and e2e files spend a quarter to a third of their
    // time waiting on the processes and nodes they start, and a third fork fills that. Tests wait
    // on conditions (pausepoints, failpoints), never on how fast a poll sees a moment go by.
    maxWorkers: 3,
    projects: [
      // Test files share their process and module cache from file to file: a fresh process and
      // module graph per file cost more CPU than most unit files' tests, and ~0.6 s of CPU for
      // each integration or e2e file, whose work is mostly in the processes it starts.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false } },
      { extends: true, test: { name: 'slow', include: ['test/{integration,e2e,browser}/**/*.test.ts'], isolate: false } }
    ]
  }
})
