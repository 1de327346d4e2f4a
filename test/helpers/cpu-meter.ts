// Setup file added by vitest.config.ts when PETAL_TEST_CPU_LOG names a file: after each test file
// it appends the CPU time (user + system, of this fork and of the children it has reaped, from
// /proc/self/stat) so `scripts/suite-cpu.ts` can tell where the suite's CPU goes. CPU time, not
// wall time, because the machine running the suite is usually shared.
import { appendFileSync, readFileSync } from 'node:fs'
import { afterAll } from 'vitest'

const TICKS_PER_SECOND = 100

/** CPU milliseconds of this process (threads included) and of the children it has waited for. */
function cpuMs (): { self: number, children: number } {
  // Fields after the command name, which is in parentheses and may contain spaces.
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime, stime, cutime, cstime are fields 14–17 of the whole line (11–14 after the name).
  const ms = (i: number): number => Number(fields[i]) * 1000 / TICKS_PER_SECOND
  return { self: ms(11) + ms(12), children: ms(13) + ms(14) }
}

const log = process.env.PETAL_TEST_CPU_LOG
// vitest reads the first parameter as a fixture pattern, so it must be destructured.
afterAll(({}, suite) => {
  if (log === undefined || log === '') return
  const file = suite.file.filepath
  appendFileSync(log, JSON.stringify({ file, pid: process.pid, ...cpuMs(), at: Date.now() }) + '\n')
})
