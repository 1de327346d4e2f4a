// Per-thread CPU of this process from /proc (bench/api-cost.ts, API_COST_THREADS=1): time on a CPU
// (schedstat, in ns, exact), the kernel's user/system split (in ticks, sampled) and context
// switches, by thread name, so that a server's main thread can be told from V8's and libuv's
// threads, which instruction counts lump together (docs/performance/ingest.md, "Session 18: ingest").
import { readdirSync, readFileSync } from 'node:fs'

interface Use { ns: number, userTicks: number, systemTicks: number, voluntary: number, involuntary: number }
export type ThreadCpu = Map<string, Use & { name: string }>

/** Each live thread of this process, by thread id. */
export function threadCpu (): ThreadCpu {
  const out: ThreadCpu = new Map()
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const dir = `/proc/self/task/${tid}`
      const name = readFileSync(`${dir}/comm`, 'utf8').trim() + (tid === String(process.pid) ? ' (main)' : '')
      const stat = readFileSync(`${dir}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // fields from the third (state) on
      const status = readFileSync(`${dir}/status`, 'utf8')
      out.set(tid, {
        name,
        ns: Number(readFileSync(`${dir}/schedstat`, 'utf8').split(' ')[0]),
        userTicks: Number(f[11]),
        systemTicks: Number(f[12]),
        voluntary: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1]),
        involuntary: Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1])
      })
    } catch {} // the thread ended while being read
  }
  return out
}

/** Lines, by thread name, of what each thread used between `before` and now, per one of `n` requests. */
export function threadCpuReport (before: ThreadCpu, n: number): string[] {
  const byName = new Map<string, Use>()
  for (const [tid, t] of threadCpu()) {
    const b = before.get(tid)
    const a = byName.get(t.name) ?? { ns: 0, userTicks: 0, systemTicks: 0, voluntary: 0, involuntary: 0 }
    a.ns += t.ns - (b?.ns ?? 0)
    a.userTicks += t.userTicks - (b?.userTicks ?? 0)
    a.systemTicks += t.systemTicks - (b?.systemTicks ?? 0)
    a.voluntary += t.voluntary - (b?.voluntary ?? 0)
    a.involuntary += t.involuntary - (b?.involuntary ?? 0)
    byName.set(t.name, a)
  }
  return [...byName].filter(([, a]) => a.ns > 0).map(([name, a]) =>
    `thread ${name}: ${(a.ns / 1000 / n).toFixed(1)} µs on a CPU per request (ticks: ${a.userTicks} user, ${a.systemTicks} system), ${(a.voluntary / n).toFixed(2)} voluntary and ${(a.involuntary / n).toFixed(2)} involuntary switches per request`)
}
