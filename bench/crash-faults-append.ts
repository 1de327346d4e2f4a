/**
 * The `append` path of bench/crash-torture.ts's `--faults` lane: `petal append` (1-30 rows) and
 * `petal seal` in turn on one directory, each under one fault (crash-faults.ts, `faulted`). After
 * each: the directory opens (or its hint repairs it), every receipt an append printed is pending or
 * sealed and no row is sealed twice (receiptsKept). Then what an append/seal loop does after a
 * fault (session 51): a seal the disk failed is run again by a new process, as the node's seal
 * loop or the user's next `petal seal` would, and with the disk back it seals every acknowledged
 * row, once. At the end, a last append and a clean seal: every receipt sealed, in a canonical
 * block; each append's rows on the chain all or none, an acknowledged one's all; and a seal after
 * that (another restart) finds nothing to seal.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Chain } from '../src/chain/index.js'
import { Ingest } from '../src/ingest/index.js'
import { faulted, newChain, tip, type Harness } from './crash-faults.js'
import { appendsWhole, receiptsKept } from './crash-receipts.js'
import { petal, timed } from './crash-torture-proc.js'

/** The acknowledged receipts of dir not sealed into a canonical block (after a clean seal: none). */
async function unsealed (dir: string, acked: string[]): Promise<string[]> {
  return await timed('receipts', async () => {
    const c = Chain.open(dir, { readonly: true })
    const ingest = Ingest.open({ chain: c, readonly: true })
    try {
      return acked.filter(id => {
        const s = ingest.receipt(id)?.sealed
        return s === undefined || c.index.byHash(s.blockHash)?.canonical !== true
      })
    } finally { await ingest.close(); c.close() }
  })
}

/** A clean `petal seal` on dir (a new process: a restart after the fault), then every acknowledged receipt sealed. */
async function sealAgain (h: Harness, i: number, dir: string, acked: string[], why: string): Promise<boolean> {
  const again = await petal(['--dir', dir, '--json', 'seal'])
  if (again.code !== 0) { h.fail('append', i, `${why}: seal exit ${again.code}`, again.stderr); return false }
  const left = await unsealed(dir, acked)
  if (left.length > 0) h.fail('append', i, `${why}: ${left.length} of ${acked.length} acknowledged receipt(s) not sealed in a canonical block`, left.slice(0, 5).join(' '))
  return true
}

export async function faultAppend (h: Harness): Promise<void> {
  const dir = join(h.root, 'f-append')
  await newChain(dir)
  const acked: string[] = []
  /** Rows of each append (by its iteration), and whether it was acknowledged. */
  const sizes = new Map<number, number>()
  const ok = new Set<number>()
  const file = join(h.root, 'rows.ndjson')
  const rowsOf = (n: number, count: number): string => {
    writeFileSync(file, Array.from({ length: count }, (_, k) => JSON.stringify({ w: 0, n, k })).join('\n') + '\n')
    sizes.set(n, count)
    return file
  }
  for (let i = 0; i < h.iterations; i++) {
    const append = i % 2 === 0
    const argv = append ? ['--json', 'append', 'kept', rowsOf(i, 1 + (i % 30))] : ['--json', 'seal']
    const { run } = await faulted(h, 'append', i, dir, argv, undefined, true)
    if (run.code === 0 && append) { acked.push(...(JSON.parse(run.stdout) as { receipts: string[] }).receipts); ok.add(i) }
    if (!await h.afterKill('append', i, dir)) return
    await receiptsKept(h, 'append', i, dir, acked)
    if (!append && run.code !== 0 && !await sealAgain(h, i, dir, acked, 'after the failed seal')) return
  }
  const last = await petal(['--dir', dir, '--json', 'append', 'kept', rowsOf(h.iterations, 3)])
  if (last.code !== 0) { h.fail('append', h.iterations, `the final append failed (exit ${last.code})`, last.stderr); return }
  acked.push(...(JSON.parse(last.stdout) as { receipts: string[] }).receipts)
  ok.add(h.iterations)
  h.noLeftovers('append', dir, await petal(['--dir', dir, 'seal']))
  const left = await unsealed(dir, acked)
  if (left.length > 0) h.fail('append', h.iterations, `${left.length} of ${acked.length} acknowledged receipt(s) not sealed in a canonical block after the final seal`, left.slice(0, 5).join(' '))
  await appendsWhole(h, 'append', dir, sizes, ok, true)
  const before = tip(await petal(['--dir', dir, '--json', 'status']))
  const more = await petal(['--dir', dir, '--json', 'seal'])
  const blocks = more.code === 0 ? (JSON.parse(more.stdout) as { blocks: unknown[] }).blocks.length : -1
  if (blocks !== 0) h.fail('append', h.iterations, `a seal after the final one: exit ${more.code}, ${blocks} block(s) (nothing was left to seal)`, more.stderr)
  if (tip(await petal(['--dir', dir, '--json', 'status'])).hash !== before.hash) h.fail('append', h.iterations, 'the tip moved on a seal with nothing to seal')
}
