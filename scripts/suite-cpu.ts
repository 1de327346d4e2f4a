// `node --import tsx scripts/suite-cpu.ts LOG [vitest-cpu-seconds]`: where the test suite's CPU
// goes, from the log that `PETAL_TEST_CPU_LOG=LOG vitest run` writes (test/helpers/cpu-meter.ts):
// CPU seconds per test file (the fork's own and its reaped children's), per tier, the total, and
// an estimate of vitest's wall time on a quiet 2-core machine. The machine running the suite is
// usually shared, so wall times measured there say little; CPU time hardly depends on the load.
//
// The estimate: vitest runs three forks on two cores (a file waiting on the processes it started
// leaves its core to another fork), so the two cores are busy all along: the files' CPU and the
// main process's (transforms, reporting: the optional second argument, vitest's total CPU from
// /usr/bin/time, minus the files' sum) over two cores, or the longest file if that is longer.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'

interface Entry { file: string, pid: number, self: number, children: number, at: number }

const [logPath, totalArg] = process.argv.slice(2)
if (logPath === undefined) throw new Error('usage: suite-cpu.ts LOG [vitest-cpu-seconds]')
const entries = readFileSync(logPath, 'utf8').split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as Entry)

// A fork that ran several files reports running totals: each file gets the difference.
const perFile = new Map<string, number>()
const childrenOf = new Map<string, number>()
const byPid = new Map<number, Entry[]>()
for (const e of entries) byPid.set(e.pid, [...(byPid.get(e.pid) ?? []), e])
for (const list of byPid.values()) {
  list.sort((a, b) => a.at - b.at)
  let self = 0
  let children = 0
  for (const e of list) {
    const f = relative(process.cwd(), e.file)
    perFile.set(f, (e.self - self + e.children - children) / 1000)
    childrenOf.set(f, (e.children - children) / 1000)
    self = e.self
    children = e.children
  }
}

const files = [...perFile].sort((a, b) => b[1] - a[1])
const sum = files.reduce((s, [, c]) => s + c, 0)
const tier = (f: string): string => f.split('/')[1] ?? '?'
const tiers = new Map<string, { n: number, cpu: number }>()
for (const [f, c] of files) {
  const t = tiers.get(tier(f)) ?? { n: 0, cpu: 0 }
  tiers.set(tier(f), { n: t.n + 1, cpu: t.cpu + c })
}

const main = totalArg !== undefined ? Math.max(0, Number(totalArg) - sum) : 0
const estimate = Math.max((sum + main) / 2, files[0]?.[1] ?? 0)

for (const [f, c] of files) console.log(`${c.toFixed(1).padStart(7)} s  (child processes ${(childrenOf.get(f) ?? 0).toFixed(1).padStart(5)} s)  ${f}`)
console.log('')
for (const [t, { n, cpu }] of [...tiers].sort((a, b) => b[1].cpu - a[1].cpu)) console.log(`${t}: ${n} files, ${cpu.toFixed(0)} s CPU`)
console.log(`test files: ${files.length}, ${sum.toFixed(0)} s CPU${totalArg !== undefined ? `; vitest in all ${Number(totalArg).toFixed(0)} s CPU (main process ${main.toFixed(0)} s)` : ''}`)
console.log(`estimated vitest wall time on a quiet 2-core machine: ${estimate.toFixed(0)} s`)
