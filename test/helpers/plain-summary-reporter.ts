import type { Reporter, SerializedError, TestModule } from 'vitest/node'

/** Prints the plain closing line `N passed, N failed` that CI reads. */
export default class PlainSummary implements Reporter {
  onTestRunEnd (modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError> = []): void {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const m of modules) {
      let failedHere = 0
      for (const t of m.children.allTests()) {
        const s = t.result().state
        if (s === 'passed') passed++
        else if (s === 'failed') failedHere++
        else skipped++
      }
      // A file that failed to load, or whose hooks (afterAll) failed after its tests passed, must
      // count as a failure too: vitest marks the file failed and exits 1.
      if (m.state() === 'failed' && failedHere === 0) failedHere = 1
      failed += failedHere
    }
    // Errors thrown outside any test (a stray rejection) also fail the run.
    failed += unhandledErrors.length
    process.stdout.write(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`)
  }
}
