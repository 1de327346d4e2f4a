import Database from 'better-sqlite3'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Ingest, IngestError } from '../../../src/ingest/index.js'
import { CONCURRENT_MS } from '../../../src/ingest/service.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { canonicalRows } from '../../helpers/ingest.js'

const alice = fixtureKey('alice')
const cleanup: Array<() => unknown> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

async function setup (): Promise<Ingest> {
  const { chain } = await newTestChain({ key: alice })
  const ingest = Ingest.open({ chain, key: alice })
  cleanup.push(() => { chain.close() }, async () => { await ingest.close() })
  return ingest
}

describe('group commit of concurrent appends', () => {
  it('commits appends of the same moment in one transaction, each all or nothing, acknowledged only after the commit', async () => {
    const ingest = await setup()
    await ingest.append('t', [{ n: 0n }])
    const write = vi.spyOn(ingest.appends, 'writeNow')
    const appended: number[] = []
    ingest.on('appended', e => { appended.push(e.rows) })
    const results = await Promise.allSettled(Array.from({ length: 50 }, async (_, i) =>
      await ingest.append('t', i === 17 ? [{ n: 1n }, { n: 'seventeen' }] : [{ n: BigInt(i * 2) }, { n: BigInt(i * 2 + 1) }])))
    expect(write.mock.calls.length, 'one transaction for the whole group').toBe(1)
    const refused = results.filter(r => r.status === 'rejected')
    expect(refused).toHaveLength(1)
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'INGEST_TYPE_MISMATCH', details: { row: 1, field: 'n' } })
    const receipts = results.flatMap(r => r.status === 'fulfilled' ? r.value.receipts : [])
    expect(receipts).toHaveLength(98)
    expect(new Set(receipts).size).toBe(98)
    expect(appended).toHaveLength(49)
    expect(ingest.stats().pendingRows).toBe(99) // the refused append left nothing, not even its first row
  })

  it('a refused append that widened a table leaves the table as it was for the others of its group', async () => {
    const ingest = await setup()
    await ingest.putTable('d', 'CREATE TABLE d (k TEXT NOT NULL)')
    const [bad, good] = await Promise.allSettled([
      ingest.append('d', [{ k: null, extra: 1n }]), // adds column extra, then fails NOT NULL
      ingest.append('d', [{ k: 'a', other: 'x' }]) // adds column other
    ])
    expect(bad).toMatchObject({ status: 'rejected', reason: expect.any(IngestError) })
    expect(good.status).toBe('fulfilled')
    expect(ingest.store.tables().get('d')?.columns.map(c => c.name)).toEqual(['k', 'other'])
    await ingest.sealNow()
    expect(canonicalRows(ingest.chain, 'd').map(r => r.values)).toEqual([{ k: 'a', other: 'x' }])
  })

  it('a refused append alone in its transaction (no savepoint) leaves the table and pending.db as they were', async () => {
    const ingest = await setup()
    await ingest.putTable('d', 'CREATE TABLE d (k TEXT NOT NULL)')
    await expect(ingest.append('d', [{ k: null, extra: 1n }])).rejects.toBeInstanceOf(IngestError) // adds column extra, then fails NOT NULL
    for (const s of [ingest.store, ingest.appends]) expect(s.db.inTransaction).toBe(false)
    expect(ingest.store.tables().get('d')?.columns.map(c => c.name)).toEqual(['k'])
    expect((await ingest.append('d', [{ k: 'a' }])).receipts).toHaveLength(1)
    expect(ingest.stats().pendingRows).toBe(1)
  })

  it('an append aborted before its group commits is refused and stores nothing', async () => {
    const ingest = await setup()
    const ac = new AbortController()
    const p = ingest.append('t', [{ n: 1n }], { signal: ac.signal })
    ac.abort()
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' })
    expect(ingest.stats().pendingRows).toBe(0)
  })

  it('a lone client: each append\'s COMMIT does its own fsync (no thread pool hop)', async () => {
    const ingest = await setup()
    const sync = vi.spyOn(ingest.appends, 'syncWal')
    for (let i = 0; i < 3; i++) await ingest.append('t', [{ n: BigInt(i) }])
    expect(sync).not.toHaveBeenCalled()
    for (const s of [ingest.store, ingest.appends]) expect(s.db.pragma('synchronous', { simple: true })).toBe(2)
  })

  it('a lone client: an append commits at the end of its task, without waiting for the event loop\'s turn to end', async () => {
    const ingest = await setup()
    await ingest.append('t', [{ n: 0n }])
    await new Promise(resolve => setImmediate(resolve)) // a new turn
    let turnEnded = false
    setImmediate(() => { turnEnded = true })
    const r = await ingest.append('t', [{ n: 1n }])
    expect(turnEnded, 'acknowledged before the turn ended').toBe(false)
    expect(r.receipts).toHaveLength(1)
    // A second append in the same turn waits for the turn's end (where concurrent requests meet).
    await ingest.append('t', [{ n: 2n }])
    expect(turnEnded).toBe(true)
    expect(ingest.stats().pendingRows).toBe(3)
  })

  it('a lone client\'s single encoded row: one statement appends and commits it, no write transaction around it (no BEGIN IMMEDIATE, no COMMIT)', async () => {
    const ingest = await setup()
    await ingest.appendRecords('t', Buffer.from('[{"n": 0}]'), 'json') // creates the table
    await ingest.appendRecords('t', Buffer.from('[{"n": 0}]'), 'json') // and reads it, as cached from now on: the lane's case
    const write = vi.spyOn(ingest.appends, 'writeNow')
    const alone = vi.spyOn(ingest.appends, 'appendAlone')
    const r = await ingest.appendRecords('t', Buffer.from('[{"n": 1}]'), 'json')
    expect(alone).toHaveBeenCalledTimes(1)
    expect(write, 'no transaction').not.toHaveBeenCalled()
    expect(ingest.receipt(r.receipts[0] as string)).toMatchObject({ table: 't', state: 'pending' })
    // Two rows, or two appends of one task, are a transaction's as before.
    await Promise.all([ingest.appendRecords('t', Buffer.from('[{"n": 2}]'), 'json'), ingest.appendRecords('t', Buffer.from('[{"n": 3}]'), 'json')])
    await ingest.appendRecords('t', Buffer.from('[{"n": 4}, {"n": 5}]'), 'json')
    expect(write).toHaveBeenCalledTimes(2)
    expect(ingest.appends.db.inTransaction).toBe(false)
    await ingest.sealNow()
    expect(canonicalRows(ingest.chain, 't').map(r => r.values.n)).toEqual([0n, 0n, 1n, 2n, 3n, 4n, 5n])
  })

  it('a lone row encoded for a table another writer has changed since (schema_version moved) is not appended by the one statement: it is typed again in a transaction, here refused', async () => {
    const ingest = await setup()
    await ingest.appendRecords('t', Buffer.from('[{"n": 0}]'), 'json')
    await ingest.appendRecords('t', Buffer.from('[{"n": 0}]'), 'json')
    const encodedFor = ingest.appends.cachedTables().get('t')?.sql
    // Another writer rewrites the table's DDL (a column of another type) and bumps the version, as
    // saveTable does; this process's cache still has the old table, and the row is encoded for it.
    const other = new Database(ingest.chain.dir.pendingDb)
    cleanup.push(() => { other.close() })
    other.prepare('UPDATE tables SET sql = ? WHERE name = ?').run('CREATE TABLE "t" ("n" BLOB)', 't')
    other.prepare("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'schema_version'").run()
    expect(ingest.appends.cachedTables().get('t')?.sql).toBe(encodedFor)
    const write = vi.spyOn(ingest.appends, 'writeNow')
    await expect(ingest.appendRecords('t', Buffer.from('[{"n": 1}]'), 'json')).rejects.toMatchObject({ code: 'INGEST_TYPE_MISMATCH', details: { field: 'n' } })
    expect(write, 'the transaction\'s way').toHaveBeenCalledTimes(1)
    expect(ingest.store.pendingStats().rows).toBe(2)
  })

  it('concurrent clients: an append is acknowledged only after an fsync of the WAL that began after its commit, off the event loop', async () => {
    const ingest = await setup()
    await Promise.all([ingest.append('t', [{ n: 0n }]), ingest.append('t', [{ n: 0n }])]) // two at once: appends are concurrent
    const syncs: Array<() => void> = []
    const real = ingest.appends.syncWal.bind(ingest.appends)
    // Each fsync is held until the test lets it go (then the real one runs).
    vi.spyOn(ingest.appends, 'syncWal').mockImplementation(async () => { await new Promise<void>(resolve => { syncs.push(resolve) }); await real() })
    let first = false
    let second = false
    const a = ingest.append('t', [{ n: 1n }]).then(r => { first = true; return r })
    await vi.waitFor(() => { expect(syncs).toHaveLength(1) })
    // Committed (visible), not yet acknowledged.
    expect(ingest.store.pendingStats().rows).toBe(3)
    const b = ingest.append('t', [{ n: 2n }]).then(r => { second = true; return r })
    // The second group commits while the first fsync runs, and waits for an fsync of its own.
    await vi.waitFor(() => { expect(ingest.store.pendingStats().rows).toBe(4) })
    expect(syncs).toHaveLength(1)
    syncs[0]?.()
    await a
    expect(first).toBe(true)
    await vi.waitFor(() => { expect(syncs).toHaveLength(2) })
    expect(second).toBe(false)
    syncs[1]?.()
    await b
    // Every other write of the connection (the sealer's) keeps synchronous=FULL.
    for (const s of [ingest.store, ingest.appends]) expect(s.db.pragma('synchronous', { simple: true })).toBe(2)
  })

  // On a clock of the test's (performance.now): a sleep here made the outcome depend on the
  // machine not stalling for CONCURRENT_MS between two lines.
  it('a lone client after concurrent appends: the fsync on the thread pool until CONCURRENT_MS have passed since the overlap ended (not began), its COMMIT\'s own after', async () => {
    const ingest = await setup()
    let now = performance.now()
    vi.spyOn(performance, 'now').mockImplementation(() => now)
    // Two under way at once for a long time: the window runs from the end of the overlap.
    const both = Promise.all([ingest.append('t', [{ n: 0n }]), ingest.append('t', [{ n: 0n }])])
    now += 10 * CONCURRENT_MS
    await both
    const sync = vi.spyOn(ingest.appends, 'syncWal')
    now += CONCURRENT_MS - 1
    await ingest.append('t', [{ n: 1n }])
    expect(sync, 'still counted as concurrent').toHaveBeenCalledTimes(1)
    sync.mockClear()
    now += CONCURRENT_MS
    for (let i = 2; i < 4; i++) await ingest.append('t', [{ n: BigInt(i) }])
    expect(sync, 'a lone client again: no thread pool hop').not.toHaveBeenCalled()
    for (const s of [ingest.store, ingest.appends]) expect(s.db.pragma('synchronous', { simple: true })).toBe(2)
    expect(ingest.stats().pendingRows).toBe(5)
  })

  it('refuses the appends of a group whose fsync fails, and every append after it until pending.db is opened again', async () => {
    const ingest = await setup()
    await Promise.all([ingest.append('t', [{ n: 0n }]), ingest.append('t', [{ n: 0n }])])
    vi.spyOn(ingest.appends, 'syncWal').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }))
    await expect(ingest.append('t', [{ n: 1n }])).rejects.toMatchObject({ code: 'IO_ERROR' })
    // The next fsync would succeed, but the pages the failed one could not write may be gone, and
    // with them every WAL frame after them: nothing is acknowledged any more.
    const rows = ingest.store.pendingStats().rows
    await expect(ingest.append('t', [{ n: 2n }])).rejects.toMatchObject({ code: 'IO_ERROR' })
    await expect(ingest.appendRecords('t', Buffer.from('[{"n": 3}]'), 'json')).rejects.toMatchObject({ code: 'IO_ERROR' })
    expect(ingest.store.pendingStats().rows, 'refused before they were written').toBe(rows)
  })

  it('rows encoded by the JSON fast lane for a table that another append of their group widens are typed again, and stored whole', async () => {
    const ingest = await setup()
    await ingest.appendRecords('t', Buffer.from('[{"a": 0}]'), 'json')
    const before = ingest.store.tables().get('t')?.sql
    const json = (s: string): Buffer => Buffer.from(s)
    // The same turn, so one group: the first adds column b (the exact path); the second was
    // encoded by the lane against the table as it was.
    const [wide, plain] = await Promise.all([ingest.appendRecords('t', json('[{"a": 1, "b": "x"}]'), 'json'), ingest.appendRecords('t', json('[{"a": 2}, {"a": 3}]'), 'json')])
    expect(wide.addedColumns).toEqual(['b'])
    expect(plain.receipts).toHaveLength(2)
    expect(ingest.store.tables().get('t')?.sql).not.toBe(before)
    await ingest.sealNow()
    expect(canonicalRows(ingest.chain, 't').map(r => r.values)).toEqual([{ a: 0n, b: null }, { a: 1n, b: 'x' }, { a: 2n, b: null }, { a: 3n, b: null }])
  })

  it('rows encoded for a table as this process last read it, which another process has widened since, are typed again and stored whole', async () => {
    const ingest = await setup()
    await ingest.appendRecords('t', Buffer.from('[{"a": 1}]'), 'json')
    // Another writer of pending.db (`petal append` beside the node): its own connection.
    const other = Ingest.open({ chain: ingest.chain, key: alice })
    cleanup.push(async () => { await other.close() })
    await other.appendRecords('t', Buffer.from('[{"a": 2, "b": "x"}]'), 'json')
    const r = await ingest.appendRecords('t', Buffer.from('[{"a": 3}]'), 'json')
    expect(r.receipts).toHaveLength(1)
    expect(ingest.store.tables().get('t')?.columns.map(c => c.name)).toEqual(['a', 'b'])
    await ingest.sealNow()
    expect(canonicalRows(ingest.chain, 't').map(r => r.values)).toEqual([{ a: 1n, b: null }, { a: 2n, b: 'x' }, { a: 3n, b: null }])
  })
})
