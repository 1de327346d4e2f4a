import { openBlockReadonly, quoteIdent, type SqlValue } from '../../src/block/index.js'
import type { Chain } from '../../src/chain/index.js'
import { IngestError, type Ingest } from '../../src/ingest/index.js'

export interface PlacedRow { height: number, hash: string, rowid: bigint, values: Record<string, SqlValue> }

/** Every row of `table` in the canonical chain, read from the block files themselves. */
export function canonicalRows (chain: Chain, table: string): PlacedRow[] {
  const out: PlacedRow[] = []
  for (const b of chain.index.range(1, chain.tip().height)) {
    if (!chain.index.tablesOf(b.hash).some(t => t.name.toLowerCase() === table.toLowerCase())) continue
    const db = openBlockReadonly(chain.pathOf(b))
    try {
      const rows = db.prepare(`SELECT rowid AS _rowid_, * FROM ${quoteIdent(table)} ORDER BY rowid`).safeIntegers(true).all() as Array<Record<string, SqlValue>>
      for (const r of rows) {
        const { _rowid_: rowid, ...values } = r
        out.push({ height: b.height, hash: b.hash, rowid: rowid as bigint, values })
      }
    } finally {
      db.close()
    }
  }
  return out
}

/**
 * Check the exactly-once promise for `receipts`: each is sealed, names a canonical block and a
 * rowid that holds a row, and no two receipts (and no stray copy) share a row.
 */
export function checkExactlyOnce (chain: Chain, ingest: Ingest, table: string, receipts: readonly string[], key: (v: Record<string, SqlValue>) => string): string[] {
  const problems: string[] = []
  const rows = canonicalRows(chain, table)
  const byKey = new Map<string, PlacedRow[]>()
  for (const r of rows) {
    const k = key(r.values)
    byKey.set(k, [...(byKey.get(k) ?? []), r])
  }
  for (const [k, list] of byKey) if (list.length > 1) problems.push(`row ${k} is in ${list.length} canonical blocks (${list.map(r => r.height).join(', ')})`)
  const seen = new Set<string>()
  for (const id of receipts) {
    const rc = ingest.receipt(id)
    if (rc?.state !== 'sealed' || rc.sealed === undefined) { problems.push(`receipt ${id} is ${rc?.state ?? 'unknown'}`); continue }
    const b = chain.get(rc.sealed.height)
    if (b?.hash !== rc.sealed.blockHash) problems.push(`receipt ${id} names block ${rc.sealed.blockHash.slice(0, 12)} at ${rc.sealed.height}, not canonical`)
    const at = `${rc.sealed.height}/${rc.sealed.rowid}`
    if (seen.has(at)) problems.push(`two receipts name row ${at}`)
    seen.add(at)
    if (!rows.some(r => r.height === rc.sealed?.height && r.rowid === BigInt(rc.sealed.rowid))) problems.push(`receipt ${id}: no row ${at}`)
  }
  return problems
}

/** The IngestError `p` rejects with (any other outcome fails the test). */
export async function ingestRefusal (p: Promise<unknown>): Promise<IngestError> {
  try {
    await p
  } catch (err) {
    if (err instanceof IngestError) return err
    throw err
  }
  throw new Error('expected an IngestError')
}

/**
 * The disk fills in the middle of a seal: reading the claimed batch's rows fails, and so does the
 * write that would give the batch back; later writes succeed (space freed). `failed` once it did.
 */
export function fullDiskOnce (store: Ingest['store']): { failed: boolean } {
  const state = { failed: false }
  const full = (): Error => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })
  const batchRows = store.batchRows.bind(store)
  const write = store.write.bind(store)
  let releaseFails = false
  store.batchRows = batch => {
    if (state.failed) return batchRows(batch)
    state.failed = true
    releaseFails = true
    throw full()
  }
  store.write = async (fn, signal, options) => {
    if (releaseFails) {
      releaseFails = false
      throw full()
    }
    return await write(fn, signal, options)
  }
  return state
}
