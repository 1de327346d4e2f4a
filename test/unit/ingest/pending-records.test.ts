import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { Ingest } from '../../../src/ingest/index.js'
import { LAYOUT } from '../../../src/ingest/pending-schema.js'
import { blockBudget } from '../../../src/ingest/sealer.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { canonicalRows, checkExactlyOnce } from '../../helpers/ingest.js'

const alice = fixtureKey('alice')
const cleanup: Array<() => unknown> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

async function setup (maxBlockBytes?: number): Promise<{ chain: Awaited<ReturnType<typeof newTestChain>>['chain'], ingest: Ingest }> {
  const { chain } = await newTestChain({ key: alice, consensus: maxBlockBytes === undefined ? {} : { maxBlockBytes } })
  cleanup.push(() => { chain.close() })
  const ingest = Ingest.open({ chain, key: alice })
  cleanup.push(async () => { await ingest.close() })
  return { chain, ingest }
}

/** pending.db's records as (id, n, batch), in id order. */
function records (path: string): Array<[number, number, number | null]> {
  const db = new Database(path, { readonly: true })
  try {
    return (db.prepare('SELECT id, n, batch FROM rows ORDER BY id').all() as Array<{ id: number, n: number, batch: number | null }>).map(r => [r.id, r.n, r.batch])
  } finally { db.close() }
}

const rowsOf = (from: number, n: number, pad = ''): Array<Record<string, bigint | string>> =>
  Array.from({ length: n }, (_, i) => ({ n: BigInt(from + i), pad }))

describe('pending records (layout 3: an append is one record)', () => {
  it('stores a 100-row append as ONE record numbered by its last row; lone rows and the JSON lane keep consecutive receipts', async () => {
    const { chain, ingest } = await setup()
    const a = await ingest.append('t', rowsOf(0, 100))
    const b = await ingest.append('t', rowsOf(100, 1))
    const c = await ingest.appendRecords('t', Buffer.from(JSON.stringify(Array.from({ length: 3 }, (_, i) => ({ n: 101 + i, pad: '' })))), 'json')
    // Layout 2 stored a record per row: 104 of them.
    expect(records(chain.dir.pendingDb)).toEqual([[100, 100, null], [101, 1, null], [104, 3, null]])
    const ids = [...a.receipts, ...b.receipts, ...c.receipts].map(r => Number(r.split('-')[1]))
    expect(ids).toEqual(Array.from({ length: 104 }, (_, i) => i + 1))
    expect(ingest.stats()).toMatchObject({ pendingRows: 104 })
    expect(ingest.receipt(a.receipts[41] as string)).toMatchObject({ state: 'pending', table: 't' })
    await ingest.sealNow()
    const all = [...a.receipts, ...b.receipts, ...c.receipts]
    expect(checkExactlyOnce(chain, ingest, 't', all, v => String(v.n))).toEqual([])
    // Each receipt names its own row, in order.
    const rows = canonicalRows(chain, 't')
    expect(all.map(id => rows.find(r => String(r.rowid) === ingest.receipt(id)?.sealed?.rowid)?.values.n)).toEqual(Array.from({ length: 104 }, (_, i) => BigInt(i)))
  })

  it('splits a record that does not fit in one block at a row: every row sealed once, in order, across blocks', async () => {
    const { chain, ingest } = await setup(64 * 1024)
    const r = await ingest.append('t', rowsOf(0, 300, 'p'.repeat(400)))
    expect(records(chain.dir.pendingDb)).toEqual([[300, 300, null]])
    const { blocks } = await ingest.sealNow()
    expect(blocks.length).toBeGreaterThan(2)
    expect(blocks.reduce((s, b) => s + b.rows, 0)).toBe(300)
    // The record is now as many records as blocks, each wholly in its batch.
    const parts = records(chain.dir.pendingDb)
    expect(parts.reduce((s, p) => s + p[1], 0)).toBe(300)
    expect(new Set(parts.map(p => p[2])).size).toBe(parts.length)
    expect(parts.at(-1)?.[0]).toBe(300)
    expect(checkExactlyOnce(chain, ingest, 't', r.receipts, v => String(v.n))).toEqual([])
    expect(canonicalRows(chain, 't').map(x => x.values.n)).toEqual(Array.from({ length: 300 }, (_, i) => BigInt(i)))
  })

  it('claims the first rows of a record put back by a failed seal when the record no longer fits: not left pending below `low`', async () => {
    const { chain, ingest } = await setup(256 * 1024)
    const r = await ingest.append('t', rowsOf(0, 600, 'p'.repeat(400)))
    const store = ingest.store
    // A seal's claim at the sealer's budget (its head record fills it), then the seal fails (a
    // full disk, a crash: reconcile): the batch is abandoned, and `low` is its record's id.
    const claimBudget = (): number => Math.floor(blockBudget(chain, store.tables().values()) * 0.8)
    await store.write(() => { store.abandon((store.claim(claimBudget(), 16, Date.now()) as { id: number }).id) })
    const [head] = records(chain.dir.pendingDb)
    // A new table with a long statement makes the blocks' room for rows smaller: the record put
    // back no longer fits one claim whole, so the next claim splits it at its start.
    const before = claimBudget()
    await ingest.putTable('u', `CREATE TABLE u (${Array.from({ length: 40 }, (_, i) => `column_${i} TEXT`).join(', ')})`)
    expect(before - claimBudget()).toBeGreaterThan(401)
    expect(head?.[1]).toBeGreaterThan(1)
    await ingest.sealNow()
    // The old claim counted the head's rows in its batch but took none (below `low`): 374 of the 600 receipts stayed pending for ever, and pendingStats said 0.
    expect(checkExactlyOnce(chain, ingest, 't', r.receipts, v => String(v.n))).toEqual([])
    expect(canonicalRows(chain, 't').map(x => x.values.n)).toEqual(Array.from({ length: 600 }, (_, i) => BigInt(i)))
  })

  it('reads a batch of many records in pages, holding no statement open between its rows: the store takes a write mid-batch', async () => {
    const { ingest } = await setup()
    const r: string[] = []
    for (let i = 0; i < 150; i++) r.push(...(await ingest.append('t', rowsOf(i, i % 3 === 0 ? 2 : 1))).receipts)
    const store = ingest.store
    const batch = await store.write(() => store.claim(1 << 20, 16, Date.now())) as { id: number, rows: number }
    expect(batch.rows).toBe(r.length)
    const ids: number[] = []
    for (const row of store.batchRows(batch.id)) {
      ids.push(row.id)
      // A seal's build yields to the event loop between chunks (build-input.ts): the API may use the
      // same connection meanwhile (a table declared). An iterator held open: "This database
      // connection is busy executing a query".
      if (ids.length === 100) expect((await ingest.putTable('u', 'CREATE TABLE u (a TEXT)')).created).toBe(true)
    }
    expect(ids).toEqual(Array.from({ length: r.length }, (_, i) => i + 1))
    await store.write(() => { store.abandon(batch.id) })
  })

  it('sets aside one row in the middle of a record: the others are sealed, it stays pending with its problem', async () => {
    const { chain, ingest } = await setup()
    const r = await ingest.append('t', rowsOf(0, 5))
    const store = ingest.store
    await store.write(() => { store.quarantine(3, 'a test problem', Date.now()) })
    expect(records(chain.dir.pendingDb)).toEqual([[2, 2, null], [3, 1, 0], [5, 2, null]])
    expect(store.row(3)).toMatchObject({ id: 3, table: 't', batch: 0 })
    await ingest.sealNow()
    expect(canonicalRows(chain, 't').map(x => x.values.n)).toEqual([0n, 1n, 3n, 4n])
    expect(ingest.receipt(r.receipts[2] as string)).toMatchObject({ state: 'pending', problem: 'a test problem' })
    expect(checkExactlyOnce(chain, ingest, 't', r.receipts.filter((_, i) => i !== 2), v => String(v.n))).toEqual([])
  })

  it('adds `rows.n` to a store whose creation an older Petal cut short (its tables made, no meta row yet): not one that refuses every append', async () => {
    const { chain } = await newTestChain({ key: alice })
    cleanup.push(() => { chain.close() })
    await Ingest.open({ chain, key: alice }).close()
    // As an older Petal killed between its tables and its meta rows left the file (each autocommitted).
    const db = new Database(chain.dir.pendingDb)
    db.exec('ALTER TABLE rows DROP COLUMN n; DELETE FROM meta')
    db.close()
    const ingest = Ingest.open({ chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    // Before: layout 3 recorded on a `rows` without `n` ("table rows has no column named n", for ever).
    const r = await ingest.append('t', rowsOf(0, 4))
    await ingest.sealNow()
    expect(checkExactlyOnce(chain, ingest, 't', r.receipts, v => String(v.n))).toEqual([])
  })

  it('upgrades a layout-2 store with pending rows (read-only first, as it is): they are sealed with the new records, receipts unchanged', async () => {
    const { chain } = await newTestChain({ key: alice })
    cleanup.push(() => { chain.close() })
    // A store as layout 2 left it: a record per row (three lone appends), no `n` column.
    const first = Ingest.open({ chain, key: alice })
    const old = { receipts: [] as string[] }
    for (let i = 0; i < 3; i++) old.receipts.push(...(await first.append('t', rowsOf(i, 1))).receipts)
    await first.close()
    const db = new Database(chain.dir.pendingDb)
    db.exec('ALTER TABLE rows DROP COLUMN n')
    db.prepare("UPDATE meta SET value = '2' WHERE key = 'layout'").run()
    db.close()

    const reader = Ingest.open({ chain, readonly: true })
    expect(reader.receipt(old.receipts[1] as string)).toMatchObject({ state: 'pending', table: 't' })
    expect(reader.stats()).toMatchObject({ pendingRows: 3 })
    await reader.close()
    const layout = (): string => { const d = new Database(chain.dir.pendingDb, { readonly: true }); try { return (d.prepare("SELECT value FROM meta WHERE key = 'layout'").get() as { value: string }).value } finally { d.close() } }
    expect(layout()).toBe('2')

    const ingest = Ingest.open({ chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    expect(layout()).toBe(LAYOUT)
    const added = await ingest.append('t', rowsOf(3, 4))
    expect(records(chain.dir.pendingDb)).toEqual([[1, 1, null], [2, 1, null], [3, 1, null], [7, 4, null]])
    await ingest.sealNow()
    expect(checkExactlyOnce(chain, ingest, 't', [...old.receipts, ...added.receipts], v => String(v.n))).toEqual([])
    expect(canonicalRows(chain, 't').map(x => x.values.n)).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n])
  })
})
