import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { Ingest } from '../../../src/ingest/index.js'
import { oldestPending } from '../../../src/ingest/pending-records.js'
import { blockBudget } from '../../../src/ingest/sealer.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { canonicalRows, checkExactlyOnce } from '../../helpers/ingest.js'

/**
 * A store an older Petal of layout 3 damaged (d04bb02's defect, found by review37): acknowledged
 * rows left pending below meta `low`, which no claim reads. This Petal's open for writing gives
 * them back to the claims, once a store (review38).
 */
const alice = fixtureKey('alice')
const cleanup: Array<() => unknown> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

const rowsOf = (from: number, n: number, pad = ''): Array<Record<string, bigint | string>> =>
  Array.from({ length: n }, (_, i) => ({ n: BigInt(from + i), pad }))

function meta (path: string, key: string): string | undefined {
  const db = new Database(path, { readonly: true })
  try { return (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value } finally { db.close() }
}

describe('pending rows an older Petal stranded below `low`', () => {
  it('are sealed after the next open for writing, each once; the look is made once a store', async () => {
    const { chain } = await newTestChain({ key: alice, consensus: { maxBlockBytes: 256 * 1024 } })
    cleanup.push(() => { chain.close() })
    let ingest = Ingest.open({ chain, key: alice })
    const r = await ingest.append('t', rowsOf(0, 600, 'p'.repeat(400)))
    const store = ingest.store
    const claimBudget = (): number => Math.floor(blockBudget(chain, store.tables().values()) * 0.8)
    // As in pending-records.test.ts: a failed seal puts the record back (`low` = its id), and the
    // room for rows shrinks, so that the next claim splits the record at its start.
    await store.write(() => { store.abandon((store.claim(claimBudget(), 16, Date.now()) as { id: number }).id) })
    await ingest.putTable('u', `CREATE TABLE u (${Array.from({ length: 40 }, (_, i) => `column_${i} TEXT`).join(', ')})`)
    // The old claim, statement for statement (before d04bb02), then its sealer's abandon of the empty batch.
    await store.write(() => {
      const low = Number(meta(chain.dir.pendingDb, 'low'))
      const { rows, bytes, last, oldest } = oldestPending(sql => store.stmt(sql), low, Number.MAX_SAFE_INTEGER, claimBudget(), 16)
      expect(last).toBeLessThan(low)
      const id = Number(store.stmt("INSERT INTO batches (state, rows, bytes, oldest_at, claimed_at, pid) VALUES ('claimed', ?, ?, ?, ?, ?)").run(rows, bytes, oldest, Date.now(), process.pid).lastInsertRowid)
      store.stmt('UPDATE rows SET batch = ? WHERE id >= ? AND id <= ? AND batch IS NULL').run(id, low, last)
      store.stmt("UPDATE meta SET value = ? WHERE key = 'low'").run(last + 1)
      store.abandon(id)
    })
    expect(ingest.stats()).toMatchObject({ pendingRows: 600 - 374 })
    await ingest.close()
    // The older Petal made no mark (this one marked the store at its first open).
    const db = new Database(chain.dir.pendingDb)
    db.prepare("DELETE FROM meta WHERE key = 'stranded'").run()
    db.close()

    ingest = Ingest.open({ chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    await ingest.sealNow()
    // Before: the 374 rows of the split head stayed pending for ever.
    expect(checkExactlyOnce(chain, ingest, 't', r.receipts, v => String(v.n))).toEqual([])
    expect(canonicalRows(chain, 't').map(x => x.values.n)).toEqual(Array.from({ length: 600 }, (_, i) => BigInt(i)))
    expect(meta(chain.dir.pendingDb, 'stranded')).toBe('374')
  })

  it('leaves a sound store as it is: a quarantined row stays set aside, `low` unchanged', async () => {
    const { chain } = await newTestChain({ key: alice })
    cleanup.push(() => { chain.close() })
    let ingest = Ingest.open({ chain, key: alice })
    await ingest.append('t', rowsOf(0, 5))
    await ingest.store.write(() => { ingest.store.quarantine(2, 'a test problem', Date.now()) })
    await ingest.sealNow()
    const low = meta(chain.dir.pendingDb, 'low')
    await ingest.close()
    // A store made before the look: it has no mark yet.
    const db = new Database(chain.dir.pendingDb)
    db.prepare("DELETE FROM meta WHERE key = 'stranded'").run()
    db.close()
    ingest = Ingest.open({ chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    expect([meta(chain.dir.pendingDb, 'stranded'), meta(chain.dir.pendingDb, 'low')]).toEqual(['0', low])
    expect(ingest.stats()).toMatchObject({ pendingRows: 0 })
  })
})
