import { afterEach, describe, expect, it, vi } from 'vitest'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, importBlock, signImport } from '../../../src/chain/index.js'
import { Ingest, IngestError, parseRecords, type IngestRow } from '../../../src/ingest/index.js'
import { sealOne } from '../../../src/ingest/sealer.js'
import { readSeal } from '../../../src/storage/index.js'
import { nullLogger, systemClock } from '../../../src/util/index.js'
import { fixtureKey, keyOpBlock, newTestChain } from '../../helpers/chain.js'
import { canonicalRows, checkExactlyOnce, ingestRefusal } from '../../helpers/ingest.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')

const open: Array<{ close: () => unknown }> = []
afterEach(async () => { for (const x of open.splice(0).reverse()) await x.close() })

async function setup (o: { maxBlockBytes?: number, key?: typeof alice } = {}): Promise<{ chain: Chain, ingest: Ingest, dir: string }> {
  const { chain, dir } = await newTestChain({ key: alice, consensus: o.maxBlockBytes === undefined ? {} : { maxBlockBytes: o.maxBlockBytes } })
  const ingest = Ingest.open({ chain, key: o.key ?? alice })
  open.push(chain, ingest)
  return { chain, ingest, dir }
}

const refusal = ingestRefusal

const json = (s: string): IngestRow[] => parseRecords(s, 'json')

describe('append and seal', () => {
  it('gives every row of a large append (inserted many to a statement) its own receipt, in order, and seals each row where its receipt says', async () => {
    const { chain, ingest } = await setup()
    const n = 64 * 2 + 3 // two full multi-row INSERTs and three single ones
    const r = await ingest.append('big', Array.from({ length: n }, (_, i) => ({ n: BigInt(i) })))
    expect(r.receipts).toHaveLength(n)
    const ids = r.receipts.map(id => Number(id.split('-')[1]))
    expect(ids).toEqual(ids.map((_, i) => (ids[0] ?? 0) + i))
    await ingest.sealNow()
    const sealed = r.receipts.map(id => ingest.receipt(id)?.sealed?.rowid)
    const rows = canonicalRows(chain, 'big')
    expect(sealed.map(rowid => rows.find(x => String(x.rowid) === rowid)?.values.n)).toEqual(Array.from({ length: n }, (_, i) => BigInt(i)))
  })

  it('creates a table from the first rows, acknowledges durable receipts, and seals them into one block with exact values', async () => {
    const { chain, ingest } = await setup()
    const r = await ingest.append('readings', json('[{"sensor": "a", "v": 9223372036854775807, "t": 1.5, "raw": {"$base64": "AAE="}}, {"sensor": "b", "v": -1, "t": 2}]'))
    expect(r.created).toBe(true)
    expect(r.addedColumns).toEqual(['sensor', 'v', 't', 'raw'])
    expect(r.receipts).toHaveLength(2)
    expect(ingest.receipt(r.receipts[0] as string)).toMatchObject({ state: 'pending', table: 'readings' })
    expect(ingest.stats()).toMatchObject({ pendingRows: 2 })

    const { blocks } = await ingest.sealNow()
    expect(blocks).toEqual([{ height: 1, hash: chain.tip().hash, rows: 2 }])
    const rc = ingest.receipt(r.receipts[1] as string)
    expect(rc).toMatchObject({ state: 'sealed', sealed: { height: 1, blockHash: chain.tip().hash, table: 'readings', rowid: '2' } })
    expect(chain.index.tablesOf(chain.tip().hash)).toMatchObject([{ name: 'readings', rows: 2, sql: 'CREATE TABLE "readings" ("sensor" TEXT, "v" INTEGER, "t" REAL, "raw" BLOB)' }])
    expect(canonicalRows(chain, 'readings').map(x => x.values)).toEqual([
      { sensor: 'a', v: 2n ** 63n - 1n, t: 1.5, raw: Buffer.from([0, 1]) },
      { sensor: 'b', v: -1n, t: 2, raw: null }
    ])
    expect(ingest.stats()).toMatchObject({ pendingRows: 0, sealed: 2, sealedBlocks: 1 })
    expect(await ingest.sealNow()).toEqual({ blocks: [] })
  })

  it('refuses rows bringing more columns than SQLite allows, naming 20 of them and counting the rest, nothing stored (wire46)', async () => {
    // 22,000 new fields over 11 NDJSON records: the message's list of names was built name by name,
    // each step copying every quoted range before it (27 s for 20,000 names; hours for a 16 MiB body).
    const { ingest } = await setup()
    const body = Array.from({ length: 11 }, (_, r) => `{${Array.from({ length: 2000 }, (_, i) => `"r${r}c${i}": 1`).join(', ')}}`).join('\n')
    const e = await refusal(ingest.appendRecords('wide', Buffer.from(body), 'ndjson'))
    expect(e.code).toBe('INGEST_BAD_COLUMN')
    expect(e.message).toMatch(/^cannot add column\(s\) "r0c0", "r0c1", .*"r0c19" and 21980 more to wide: too many columns on wide$/)
    expect(ingest.stats().pendingRows).toBe(0)
  })

  it('creates a table\'s columns in the order of the input\'s fields, also fields named as numbers (wire46)', async () => {
    // An object lists keys such as '2024' first, in numeric order: `name,2024,2023` made a table
    // ("2023", "2024", "name"), and its CSV no longer read back as it was written.
    const { ingest } = await setup()
    expect((await ingest.appendRecords('c', Buffer.from('name,2024,2023\nx,1,2\n'), 'csv')).addedColumns).toEqual(['name', '2024', '2023'])
    expect((await ingest.appendRecords('j', Buffer.from('[{"name": "x", "b": 1, "2024": 1, "2023": 2}, {"z": 1, "7": 1}]'), 'json')).addedColumns).toEqual(['name', 'b', '2024', '2023', 'z', '7'])
    expect((await ingest.appendRecords('n', Buffer.from('{"q": 1}\n{"10": 1, "p": 2, "9": 3}\n'), 'ndjson')).addedColumns).toEqual(['q', '10', 'p', '9'])
  })

  it('adds a column for a new field, maps field names case-insensitively, and refuses a wrong type naming row and field', async () => {
    const { chain, ingest } = await setup()
    await ingest.append('t', json('[{"a": 1}]'))
    const r = await ingest.append('t', json('[{"A": 2, "b": "x"}, {"a": 3, "b": null, "c": 1}, {"a": 4, "c": 2.5}]'))
    expect(r.addedColumns).toEqual(['b', 'c'])
    const e = await refusal(ingest.append('t', json('[{"a": 5}, {"a": 6}, {"a": "seven"}]')))
    expect(e.code).toBe('INGEST_TYPE_MISMATCH')
    expect(e.details).toMatchObject({ row: 2, field: 'a', expected: 'an integer', got: 'text' })
    expect(e.hint).toMatch(/first value written/)
    const real = await refusal(ingest.append('t', json('[{"a": 1.5}]')))
    expect(real.details).toMatchObject({ row: 0, field: 'a', got: 'real' })
    expect(ingest.stats().pendingRows).toBe(4) // nothing of the refused appends was stored
    await ingest.sealNow()
    expect(chain.index.tablesOf(chain.tip().hash)[0]?.sql).toBe('CREATE TABLE "t" ("a" INTEGER, "b" TEXT, "c" REAL)')
    expect(canonicalRows(chain, 't').map(x => x.values)).toEqual([
      { a: 1n, b: null, c: null }, { a: 2n, b: 'x', c: null }, { a: 3n, b: null, c: 1 }, { a: 4n, b: null, c: 2.5 }
    ])
  })

  it('refuses rows of an empty new table, oversized rows, and too many rows, storing nothing', async () => {
    const { ingest } = await setup({ maxBlockBytes: 64 * 1024 })
    expect((await refusal(ingest.append('t', json('[{"a": null}]')))).code).toBe('INGEST_MALFORMED')
    const big = await refusal(ingest.append('t', [{ a: 'x'.repeat(70_000) }]))
    expect(big.code).toBe('INGEST_ROW_TOO_LARGE')
    expect(big.details).toMatchObject({ row: 0 })
    const small = Ingest.open({ chain: ingest.chain, key: alice, maxAppendRows: 2 })
    open.push(small)
    expect((await refusal(small.append('t', json('[{"a":1},{"a":2},{"a":3}]')))).code).toBe('INGEST_TOO_MANY_ROWS')
    expect(ingest.stats().pendingRows).toBe(0)
    expect(ingest.store.tables().size).toBe(0)
  })

  it('refuses writes when the key is not an active signatory, or there is none, before storing anything', async () => {
    const { chain } = await setup()
    const notSignatory = Ingest.open({ chain, key: bob })
    const noKey = Ingest.open({ chain })
    open.push(notSignatory, noKey)
    const e = await refusal(notSignatory.append('t', json('[{"a": 1}]')))
    expect(e.code).toBe('INGEST_NOT_SIGNATORY')
    expect(e.hint).toMatch(/signkey/)
    expect((await refusal(noKey.append('t', json('[{"a": 1}]')))).code).toBe('INGEST_NO_KEY')
    expect((await refusal(notSignatory.sealNow())).code).toBe('INGEST_NOT_SIGNATORY')
    expect(notSignatory.stats().pendingRows).toBe(0)
    expect(e.message).toMatch(/is not a signatory at height 0$/)
  })

  it('names the height of a revoked key\'s revocation and the tip apart (user47: "is revoked (at height 2) at height 2")', async () => {
    const { chain } = await setup()
    await keyOpBlock(chain, alice, 'A', bob)
    await keyOpBlock(chain, alice, 'R', bob)
    await signImport(chain, undefined, alice)
    const revoked = Ingest.open({ chain, key: bob })
    open.push(revoked)
    const e = await refusal(revoked.append('t', json('[{"a": 1}]')))
    expect(e.code).toBe('INGEST_NOT_SIGNATORY')
    expect(e.message).toMatch(/was revoked at height 2 \(the tip is 3\)$/)
  })

  it('never reports a row sealed in a block its seal has not committed yet (same process, same index connection)', async () => {
    const { chain, ingest } = await setup()
    const { receipts } = await ingest.append('t', json('[{"n": 1}]'))
    const seen: Array<string | undefined> = []
    const insert = chain.index.insertBlock.bind(chain.index)
    const spy = vi.spyOn(chain.index, 'insertBlock').mockImplementation((...args) => {
      insert(...args)
      seen.push(ingest.receipt(receipts[0] as string)?.state) // inside the seal's write transaction
    })
    await ingest.sealNow()
    spy.mockRestore()
    expect(seen).toEqual(['pending'])
    expect(ingest.receipt(receipts[0] as string)?.state).toBe('sealed')
  })

  it('splits pending rows over several blocks within max_block_bytes', async () => {
    const { chain, ingest } = await setup({ maxBlockBytes: 96 * 1024 })
    const receipts: string[] = []
    for (let i = 0; i < 4; i++) {
      const rows = Array.from({ length: 100 }, (_, j) => ({ n: BigInt(i * 100 + j), pad: 'p'.repeat(500) }))
      receipts.push(...(await ingest.append('t', rows)).receipts)
    }
    const { blocks } = await ingest.sealNow()
    expect(blocks.length).toBeGreaterThan(2)
    expect(blocks.reduce((s, b) => s + b.rows, 0)).toBe(400)
    for (const b of chain.index.range(1, chain.tip().height)) expect(b.size).toBeLessThanOrEqual(96 * 1024)
    expect(checkExactlyOnce(chain, ingest, 't', receipts, v => String(v.n))).toEqual([])
  })
})

describe('declared tables', () => {
  it('declares a table idempotently and refuses a different definition', async () => {
    const { ingest } = await setup()
    const sql = 'CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount REAL CHECK (amount >= 0), note TEXT DEFAULT \'none\')'
    expect(await ingest.putTable('orders', sql)).toEqual({ created: true, sql })
    expect(await ingest.putTable('orders', sql + ';')).toEqual({ created: false, sql })
    const e = await refusal(ingest.putTable('orders', 'CREATE TABLE orders (id INTEGER)'))
    expect(e.code).toBe('INGEST_TABLE_CONFLICT')
    expect(e.hint).toContain(sql)
    await ingest.append('inferred', json('[{"a": 1}]'))
    expect((await refusal(ingest.putTable('inferred', 'CREATE TABLE inferred (a INTEGER)'))).hint).toMatch(/created from the first rows/)
  })

  it.each([
    ['SQL in the name', 'x; DROP TABLE y', 'CREATE TABLE x (a)', 'INGEST_BAD_TABLE', /not a table name/],
    ['a reserved name', '_meta', 'CREATE TABLE _meta (a)', 'INGEST_BAD_TABLE', /not a table name/],
    ['an sqlite_ name', 'sqlite_x', 'CREATE TABLE sqlite_x (a)', 'INGEST_BAD_TABLE', /reserved by SQLite/],
    ['two statements', 't', 'CREATE TABLE t (a); DROP TABLE u', 'INGEST_BAD_TABLE', /SQLite refused/],
    ['not a CREATE TABLE', 't', 'ATTACH \'/tmp/x.db\' AS x', 'INGEST_BAD_TABLE', /one CREATE TABLE/],
    ['CREATE TABLE AS SELECT', 't', 'CREATE TABLE t AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c', 'INGEST_BAD_TABLE', /AS SELECT is not accepted/],
    ['a temporary table', 't', 'CREATE TEMP TABLE t (a)', 'INGEST_BAD_TABLE', /one CREATE TABLE/],
    ['a schema prefix', 't', 'CREATE TABLE main.t (a)', 'INGEST_BAD_TABLE', /must not name a schema/],
    ['another table name', 't', 'CREATE TABLE u (a)', 'INGEST_BAD_TABLE', /creates table "u"/],
    ['a virtual table', 't', 'CREATE VIRTUAL TABLE t USING fts5(a)', 'INGEST_BAD_TABLE', /one CREATE TABLE/],
    ['a generated column', 't', 'CREATE TABLE t (a INTEGER, b AS (a * 2))', 'INGEST_BAD_TABLE', /generated column/],
    ['a reserved column', 't', 'CREATE TABLE t (_height INTEGER)', 'INGEST_BAD_COLUMN', /reserved for the query engine/],
    ['WITHOUT ROWID', 't', 'CREATE TABLE t (k TEXT PRIMARY KEY) WITHOUT ROWID', 'INGEST_BAD_TABLE', /WITHOUT ROWID/],
    ['a syntax error', 't', 'CREATE TABLE t (a INTEGER,', 'INGEST_BAD_TABLE', /SQLite refused/]
  ])('refuses %s', async (_what, name, sql, code, message) => {
    const { ingest } = await setup()
    const e = await refusal(ingest.putTable(name, sql))
    expect(e.code).toBe(code)
    expect(e.message).toMatch(message)
    expect(e.hint).toBeTruthy()
    expect(ingest.store.tables().size).toBe(0)
  })

  it('checks NOT NULL, CHECK and STRICT types when appending, naming the row', async () => {
    const { ingest } = await setup()
    await ingest.putTable('o', 'CREATE TABLE o (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount REAL CHECK (amount >= 0))')
    const nn = await refusal(ingest.append('o', json('[{"customer": "a", "amount": 1}, {"amount": 2}]')))
    expect(nn.code).toBe('INGEST_CONSTRAINT')
    expect(nn.details).toMatchObject({ row: 1, field: 'customer' })
    const ck = await refusal(ingest.append('o', json('[{"customer": "a", "amount": -1}]')))
    expect(ck.code).toBe('INGEST_CONSTRAINT')
    expect(ck.message).toMatch(/CHECK constraint failed/)
    const ty = await refusal(ingest.append('o', json('[{"customer": 5, "amount": 1}]')))
    expect(ty.code).toBe('INGEST_TYPE_MISMATCH')
    expect(ty.hint).toMatch(/as declared/)
    await ingest.putTable('s', 'CREATE TABLE s (a ANY, b INT) STRICT')
    await ingest.append('s', json('[{"a": "x", "b": 1}, {"a": 1.5}]'))
    expect(ingest.stats().pendingRows).toBe(2)
  })

  it('keeps UNIQUE within a block: a repeated key starts the next block instead of failing', async () => {
    const { chain, ingest } = await setup()
    await ingest.putTable('u', 'CREATE TABLE u (k TEXT UNIQUE, n INTEGER)')
    const r = await ingest.append('u', json('[{"k": "a", "n": 1}, {"k": "b", "n": 2}, {"k": "a", "n": 3}]'))
    const { blocks } = await ingest.sealNow()
    expect(blocks.map(b => b.rows)).toEqual([2, 1])
    expect(checkExactlyOnce(chain, ingest, 'u', r.receipts, v => String(v.n))).toEqual([])
  })

  it('types CSV cells by the declared columns: text stays text, integers are exact', async () => {
    const { chain, ingest } = await setup()
    await ingest.putTable('c', 'CREATE TABLE c (zip TEXT, n INTEGER, x REAL, b BLOB, any_)')
    await ingest.append('c', parseRecords('zip,n,x,b,any_\r\n007,9223372036854775807,1,\\x00ff,12\r\n"",,1e999,,1.50\r\n', 'csv'))
    const bad = await refusal(ingest.append('c', parseRecords('n\r\n1.5\r\n', 'csv')))
    expect(bad.code).toBe('INGEST_TYPE_MISMATCH')
    expect(bad.details).toMatchObject({ row: 0, field: 'n' })
    await ingest.sealNow()
    expect(canonicalRows(chain, 'c').map(x => x.values)).toEqual([
      { zip: '007', n: 2n ** 63n - 1n, x: 1, b: Buffer.from([0, 255]), any_: 12n },
      { zip: '', n: null, x: Infinity, b: null, any_: '1.50' }
    ])
  })

  it('types a new table from CSV: canonical numbers become INTEGER/REAL, anything else TEXT', async () => {
    const { chain, ingest } = await setup()
    await ingest.append('k', parseRecords('i,r,t,z,b\r\n1,1.5,x,007,\\x01\r\n-2,2.0,5,1,\r\n', 'csv'))
    await ingest.sealNow()
    expect(chain.index.tablesOf(chain.tip().hash)[0]?.sql).toBe('CREATE TABLE "k" ("i" INTEGER, "r" REAL, "t" TEXT, "z" TEXT, "b" BLOB)')
    expect(canonicalRows(chain, 'k').map(x => x.values)).toEqual([
      { i: 1n, r: 1.5, t: 'x', z: '007', b: Buffer.from([1]) },
      { i: -2n, r: 2, t: '5', z: '1', b: null }
    ])
  })
})

describe('reorgs', () => {
  /** A copy of `dir` where `n` other blocks are signed on top of the current tip. */
  async function branch (dir: string, n: number): Promise<string> {
    const copy = join(tmpDir(), 'branch')
    cpSync(dir, copy, { recursive: true })
    const c = Chain.open(copy)
    for (let i = 0; i < n; i++) await signImport(c, undefined, alice)
    c.close()
    return copy
  }

  async function importAll (chain: Chain, from: string): Promise<void> {
    const c = Chain.open(from)
    try {
      for (const b of c.index.range(1, c.tip().height)) {
        const path = c.pathOf(b)
        await importBlock(chain, path, readSeal(path))
      }
    } finally {
      c.close()
    }
  }

  it('re-seals the rows of an orphaned block on the new chain, and follows them back when their block wins again', async () => {
    const { chain, ingest, dir } = await setup()
    const genesisOnly = await branch(dir, 0)
    const r = await ingest.append('t', json('[{"n": 1}, {"n": 2}]'))
    const first = (await ingest.sealNow()).blocks[0]
    expect(first?.height).toBe(1)
    const withFirst = await branch(dir, 0)

    // A longer branch from genesis wins: block 1 (with our rows) is orphaned.
    await importAll(chain, await branch(genesisOnly, 2))
    expect(chain.index.byHash(first?.hash as string)?.canonical).toBe(false)
    expect(ingest.receipt(r.receipts[0] as string)?.state).toBe('pending') // derived from the index at once
    const requeued: number[] = []
    ingest.on('requeued', e => { requeued.push(e.rows) })
    expect(await ingest.reconcile()).toMatchObject({ requeued: 2 })
    expect(requeued).toEqual([2])
    expect((await ingest.sealNow()).blocks).toMatchObject([{ height: 3, rows: 2 }])
    expect(checkExactlyOnce(chain, ingest, 't', r.receipts, v => String(v.n))).toEqual([])
    expect(ingest.receipt(r.receipts[1] as string)?.sealed).toMatchObject({ height: 3, rowid: '2' })

    // The first branch comes back, longer still: block 1 is canonical again and the re-seal is
    // orphaned. The rows follow block 1, and are not sealed a third time.
    await importAll(chain, await branch(withFirst, 3))
    expect(chain.tip().height).toBe(4)
    expect(chain.index.byHash(first?.hash as string)?.canonical).toBe(true)
    expect(ingest.receipt(r.receipts[0] as string)?.sealed).toMatchObject({ height: 1, blockHash: first?.hash })
    expect(await ingest.reconcile()).toMatchObject({ requeued: 2, restored: 2 })
    expect(await ingest.sealNow()).toEqual({ blocks: [] })
    expect(checkExactlyOnce(chain, ingest, 't', r.receipts, v => String(v.n))).toEqual([])
    expect(canonicalRows(chain, 't')).toHaveLength(2)
  })

  it('does not seal rows again when a reorg puts their block back between reconcile and the seal', async () => {
    const { chain, ingest, dir } = await setup()
    const genesisOnly = await branch(dir, 0)
    const r = await ingest.append('t', json('[{"n": 1}]'))
    const first = (await ingest.sealNow()).blocks[0]
    const withFirst = await branch(dir, 0)
    await importAll(chain, await branch(genesisOnly, 2))
    await ingest.reconcile() // rows pending again…
    await importAll(chain, await branch(withFirst, 3)) // …and their block canonical again before the seal
    // A seal without a new reconcile (the reorg landed after it): the check under the chain's
    // write lock sees block 1 holding the row, and refuses to seal it again.
    const ctx = { chain, store: ingest.store, key: alice, logger: nullLogger, clock: systemClock }
    const e = await sealOne(ctx, Number.MAX_SAFE_INTEGER).catch((err: unknown) => err as IngestError)
    expect(e).toMatchObject({ code: 'INGEST_ALREADY_SEALED' })
    expect(chain.tip().height).toBe(4)
    expect(ingest.receipt(r.receipts[0] as string)?.sealed?.blockHash).toBe(first?.hash)
    expect(canonicalRows(chain, 't')).toHaveLength(1)
    // The next reconcile gives the row back to block 1; nothing is left to seal.
    expect(await ingest.reconcile()).toMatchObject({ restored: 1 })
    expect(await ingest.sealNow()).toEqual({ blocks: [] })
  })

  // An orphaned block of ingested rows whose rows are partly back elsewhere on the winning branch
  // (session 47, reseal47: the multiset question of docs/consensus.md, "Re-sealing orphaned
  // blocks", for rows with receipts). The unit there is the receipt: exactly the rows not back are
  // sealed again, and the receipts of those back name the block they are in now.
  it('re-seals only the rows of an orphaned batch that are not back, and the receipts of those back name their block now', async () => {
    const { chain, ingest, dir } = await setup()
    const genesisOnly = await branch(dir, 0)
    const r1 = await ingest.append('t', json('[{"n": 1}, {"n": 2}]'))
    const r2 = await ingest.append('t', json('[{"n": 3}, {"n": 4}]'))
    const m = (await ingest.sealNow()).blocks[0]
    expect(m).toMatchObject({ height: 1, rows: 4 })
    const withM = await branch(dir, 0)

    // Another branch wins; the four rows are sealed again there, in two blocks: s2 (the first
    // append's), then s3 (the second's).
    await importAll(chain, await branch(genesisOnly, 2))
    expect(await ingest.reconcile()).toMatchObject({ requeued: 4 })
    const upTo = Number((r1.receipts[1] as string).split('-')[1])
    const s2 = await sealOne({ chain, store: ingest.store, key: alice, logger: nullLogger, clock: systemClock }, upTo)
    expect(s2).toMatchObject({ height: 3, rows: 2 })
    const withS2 = await branch(dir, 0)
    expect((await ingest.sealNow()).blocks).toMatchObject([{ height: 4, rows: 2 }])

    // m's branch wins back: every row is m's again.
    await importAll(chain, await branch(withM, 4))
    expect(chain.index.byHash(m?.hash as string)?.canonical).toBe(true)
    expect(await ingest.reconcile()).toMatchObject({ restored: 4 })
    expect(await ingest.sealNow()).toEqual({ blocks: [] })

    // Then a branch that holds s2 but not s3: m is an orphan whose first two rows are back, in s2.
    await importAll(chain, await branch(withS2, 3))
    expect(chain.index.byHash(m?.hash as string)?.canonical).toBe(false)
    expect(chain.index.byHash(s2?.hash as string)?.canonical).toBe(true)
    expect(await ingest.reconcile()).toMatchObject({ requeued: 4, restored: 2 })
    expect((await ingest.sealNow()).blocks).toMatchObject([{ rows: 2 }])
    for (const id of r1.receipts) expect(ingest.receipt(id)?.sealed).toMatchObject({ height: 3, blockHash: s2?.hash })
    for (const id of r2.receipts) expect(ingest.receipt(id)?.sealed?.height).toBe(chain.tip().height)
    expect(checkExactlyOnce(chain, ingest, 't', [...r1.receipts, ...r2.receipts], v => String(v.n))).toEqual([])
    expect(canonicalRows(chain, 't')).toHaveLength(4)
  })
})
