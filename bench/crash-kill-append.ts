/**
 * The `append` path of bench/crash-torture.ts's kill lane (session 43; until then only the fault
 * lane had one): `petal append` (1-200 rows, or 50,000 one time in five) and `petal seal` in turn on
 * one directory, each killed -9 after a random delay over its run. After each: the directory opens
 * (or its hint repairs it), every receipt an append printed is pending or sealed and no row is
 * sealed twice (receiptsKept); after a last append and an unkilled seal of it no temporary file is left, and each
 * append's rows are on the chain all or none (an append is one transaction).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { newChain, type Harness } from './crash-faults.js'
import { appendsWhole, receiptsKept } from './crash-receipts.js'
import { killAfter, petal, start, type Run } from './crash-torture-proc.js'

export interface KillHarness extends Harness {
  /** A kill's delay for the operation `key` (drawn over how long it takes: crash-torture.ts). */
  delayFor: (key: string, fallback: number) => number
  learn: (key: string, r: Run) => void
}

export async function pathAppend (h: KillHarness): Promise<void> {
  const dir = join(h.root, 'append')
  await newChain(dir)
  const acked: string[] = []
  const sizes = new Map<number, number>()
  const ok = new Set<number>()
  for (let i = 0; i < h.iterations; i++) {
    const seal = i % 3 === 2
    let argv = ['--json', 'seal']
    let key = 'seal'
    if (!seal) {
      const n = h.rand() < 0.2 ? 50_000 : 1 + Math.floor(h.rand() * 200)
      const file = join(h.root, 'rows.ndjson')
      writeFileSync(file, Array.from({ length: n }, (_, k) => JSON.stringify({ w: 0, n: i, k })).join('\n') + '\n')
      sizes.set(i, n)
      argv = ['--json', 'append', 'kept', file]
      key = n > 200 ? 'append-big' : 'append'
    }
    const { run, killed } = await killAfter(start(['--dir', dir, ...argv]), h.delayFor(key, seal ? 1500 : 600))
    h.learn(key, run)
    h.tally('append', killed)
    if (!killed && run.code !== 0) h.fail('append', i, `${argv.slice(1, 2).join(' ')} exit ${run.code}`, run.stderr)
    if (!killed && run.code === 0 && !seal) { acked.push(...(JSON.parse(run.stdout) as { receipts: string[] }).receipts); ok.add(i) }
    if (!await h.afterKill('append', i, dir)) return
    await receiptsKept(h, 'append', i, dir, acked)
  }
  // The last seal must write a block: tmp/ files of killed seals are removed by the next write's
  // recovery (docs/data-directory.md), and one with nothing to seal writes nothing (seed 4940 left
  // a killed seal's input file so, when every later append had been killed too).
  const file = join(h.root, 'rows.ndjson')
  writeFileSync(file, Array.from({ length: 3 }, (_, k) => JSON.stringify({ w: 0, n: h.iterations, k })).join('\n') + '\n')
  const last = await petal(['--dir', dir, '--json', 'append', 'kept', file])
  if (last.code !== 0) h.fail('append', h.iterations, `the final append failed (exit ${last.code})`, last.stderr)
  else { sizes.set(h.iterations, 3); ok.add(h.iterations) }
  h.noLeftovers('append', dir, await petal(['--dir', dir, 'seal']))
  await appendsWhole(h, 'append', dir, sizes, ok)
}
