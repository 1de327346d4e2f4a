/**
 * The check after each iteration of the append and run paths (bench/crash-torture.ts, both lanes):
 * every acknowledged receipt is pending or sealed, and no row is sealed twice.
 */
import { Chain } from '../src/chain/index.js'
import { Ingest } from '../src/ingest/index.js'
import type { Harness } from './crash-faults.js'
import { codedError, petal, timed } from './crash-torture-proc.js'

/** The tip each directory's last duplicate count (receiptsKept) passed at. */
const countedAt = new Map<string, string>()

/**
 * Receipts acknowledged and not pending or sealed in dir, and whether a row was sealed twice. The
 * count of sealed rows is asked again only when the tip has moved since it last passed: it is of
 * the chain's rows alone (the query mirror follows the chain, and only a seal that placed a block
 * or a query writes it), and `petal query` was a third of the append path's time (session 50).
 */
export async function receiptsKept (h: Harness, path: string, i: number, dir: string, acked: string[]): Promise<void> {
  const tip = await timed('receipts', async () => {
    const c = Chain.open(dir, { readonly: true })
    const ingest = Ingest.open({ chain: c, readonly: true })
    try {
      const lost = acked.filter(id => { const r = ingest.receipt(id); return r === undefined || (r.state !== 'pending' && r.state !== 'sealed') })
      if (lost.length > 0) h.fail(path, i, `${lost.length} of ${acked.length} acknowledged receipt(s) lost`, lost.slice(0, 5).join(' '))
      return c.tip().hash
    } finally { await ingest.close(); c.close() }
  })
  if (countedAt.get(dir) === tip) return
  const q = await petal(['--dir', dir, 'query', "SELECT count(*) AS n, count(DISTINCT w || ':' || n || ':' || k) AS d FROM kept"])
  if (q.code !== 0) { if (!/QUERY_(NO_SUCH|UNKNOWN)_TABLE/.test(codedError(q.stderr)?.code ?? '')) h.fail(path, i, `query exit ${q.code}`, q.stderr); else countedAt.set(dir, tip); return }
  const r = JSON.parse(q.stdout.trim().split('\n')[0] ?? '{}') as { n?: number, d?: number }
  if (r.n !== r.d) h.fail(path, i, `${r.n} sealed rows, ${r.d} distinct: rows sealed twice`)
  else countedAt.set(dir, tip)
}

/**
 * Each append's rows on dir's chain all or none (an append is one transaction), an acknowledged
 * one's all: `sizes` holds the rows of every append tried, by the `n` its rows carry; `acked`, the
 * appends that printed their receipts. Call after a clean seal. With `sayStored`, an append that
 * failed and whose rows are there anyway is said, not failed: a refusal means "not known to be
 * durable" (docs/ingest.md, group commit); a killed one's often are (killed after its commit).
 */
export async function appendsWhole (h: Harness, path: string, dir: string, sizes: Map<number, number>, acked: Set<number>, sayStored = false): Promise<void> {
  const q = await petal(['--dir', dir, 'query', 'SELECT n, count(*) AS c FROM kept GROUP BY n'])
  if (q.code !== 0) { if (acked.size > 0) h.fail(path, h.iterations, `query exit ${q.code}`, q.stderr); return }
  const got = new Map(q.stdout.trim().split('\n').filter(l => l !== '').map(l => { const r = JSON.parse(l) as { n: number, c: number }; return [r.n, r.c] }))
  for (const [n, size] of sizes) {
    const c = got.get(n) ?? 0
    if (c !== 0 && c !== size) h.fail(path, h.iterations, `append #${n}: ${c} of its ${size} rows on the chain (an append is all or nothing)`)
    else if (c === 0 && acked.has(n)) h.fail(path, h.iterations, `append #${n}: acknowledged, none of its ${size} rows on the chain`)
    else if (sayStored && c === size && !acked.has(n)) console.log(`  ${path}: append #${n} failed or was killed, and its ${size} rows are on the chain`)
  }
}
