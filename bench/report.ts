import { readFileSync } from 'node:fs'

/**
 * Benchmark reporting: every figure is printed next to a reference measured in the same run, so
 * the ratio, not the absolute number, is what carries across machines.
 */
export interface Row {
  figure: string
  value: number
  unit: string
  reference?: string
  refValue?: number
  /** 'higher' when a bigger value is better (throughput), 'lower' for times. */
  better?: 'higher' | 'lower'
  note?: string
}

function fmt (n: number): string {
  if (!Number.isFinite(n)) return String(n)
  if (Math.abs(n) >= 100) return n.toFixed(0)
  if (Math.abs(n) >= 10) return n.toFixed(1)
  return n.toFixed(2)
}

/** Print a titled table of figures against their references. */
export function printTable (title: string, rows: Row[]): void {
  const lines: string[][] = [['figure', 'value', 'reference', 'ref value', 'ratio']]
  for (const r of rows) {
    const ratio = r.refValue === undefined || r.refValue === 0
      ? ''
      : (r.better === 'higher' ? r.refValue / r.value : r.value / r.refValue).toFixed(2) + '×'
    lines.push([r.figure, `${fmt(r.value)} ${r.unit}`, r.reference ?? '', r.refValue === undefined ? '' : `${fmt(r.refValue)} ${r.unit}`, ratio + (r.note !== undefined ? `  ${r.note}` : '')])
  }
  const w = lines[0]!.map((_, i) => Math.max(...lines.map(l => (l[i] ?? '').length)))
  process.stdout.write(`\n## ${title}\n\n`)
  for (const [i, l] of lines.entries()) {
    process.stdout.write(l.map((c, j) => c.padEnd(w[j] ?? 0)).join('  ').trimEnd() + '\n')
    if (i === 0) process.stdout.write(w.map(n => '-'.repeat(n)).join('  ') + '\n')
  }
  process.stdout.write('\n(ratio = cost relative to the reference: 1.00× means as fast as the reference)\n')
}

/** Median of repeated timings in ms. */
export async function timeIt (fn: () => Promise<unknown> | unknown, runs = 3): Promise<number> {
  const t: number[] = []
  for (let i = 0; i < runs; i++) {
    const s = performance.now()
    await fn()
    t.push(performance.now() - s)
  }
  t.sort((a, b) => a - b)
  return t[Math.floor(t.length / 2)] as number
}

/**
 * CPU time (ms, user + system) of this process's finished children and theirs (Linux:
 * /proc/self/stat cutime + cstime, in clock ticks of 10 ms). On a loaded machine a process's wall
 * time is mostly waiting for a core; its CPU time is what it costs.
 */
export function childrenCpuMs (): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ')
  return (Number(fields[13]) + Number(fields[14])) * 10
}
