// Two commands, each run as a child process, timed alternately under the same conditions, with
// what the machine did meanwhile: the children's CPU (user + system, every thread: /proc/self/stat's
// cutime and cstime once the child has been waited for) and the CPU every other process used
// during each run (/proc/stat's busy time less the child's). The small-block verify's figures and
// their floor moved 1.4× between quiet runs of one build (docs/performance/verify.md, "Session 57:
// plain verify's rate and its floor (verify57)"): with these figures a run says whether the
// machine gave the child less CPU (others busy), or the same work cost more CPU.
import { readFileSync } from 'node:fs'

export interface ProcessTimes {
  /** Median wall time of a run, ms. */
  wall: number
  /** Median CPU of the child process, ms (user + system, all its threads). */
  cpu: number
  /** Median CPU of every other process during a run, ms (all cores; -1 where /proc is missing). */
  others: number
  /** The walls of every run, in the order they ran (ms). */
  walls: number[]
}

// Clock ticks a second of /proc's counters (USER_HZ: 100 on every Linux this runs on).
const HZ = 100

/** Busy ticks of all cores (user, nice, system, irq, softirq, steal), or NaN without /proc. */
function machineBusy (): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/).slice(1).map(Number) ?? []
    return (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)
  } catch {
    return NaN
  }
}

/** Ticks of CPU of this process's children that have been waited for (cutime + cstime), or NaN. */
function childTicks (): number {
  try {
    const s = readFileSync('/proc/self/stat', 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return Number(f[13]) + Number(f[14])
  } catch {
    return NaN
  }
}

const median = (t: number[]): number => [...t].sort((x, y) => x - y)[Math.floor(t.length / 2)] ?? NaN

/**
 * `a` and `b` (each runs one child process synchronously) `runs` times each, after one untimed run
 * of each (a fresh build's first run writes its code caches, and the first run of anything reads
 * its files from disk: neither is what the figure measures). The order alternates, a b, b a, a b…,
 * so that neither always follows the other.
 */
export function timeProcessPair (a: () => void, b: () => void, runs: number): [ProcessTimes, ProcessTimes] {
  a()
  b()
  const sides = [{ f: a, wall: [] as number[], cpu: [] as number[], others: [] as number[] }, { f: b, wall: [] as number[], cpu: [] as number[], others: [] as number[] }]
  for (let i = 0; i < runs; i++) {
    for (const s of i % 2 === 0 ? sides : [...sides].reverse()) {
      const busy0 = machineBusy()
      const child0 = childTicks()
      const t = performance.now()
      s.f()
      s.wall.push(performance.now() - t)
      const cpu = (childTicks() - child0) * 1000 / HZ
      const busy = (machineBusy() - busy0) * 1000 / HZ
      s.cpu.push(cpu)
      s.others.push(Number.isNaN(busy) || Number.isNaN(cpu) ? -1 : Math.max(0, busy - cpu))
    }
  }
  const out = sides.map(s => ({ wall: median(s.wall), cpu: median(s.cpu), others: median(s.others), walls: s.wall }))
  return [out[0] as ProcessTimes, out[1] as ProcessTimes]
}
