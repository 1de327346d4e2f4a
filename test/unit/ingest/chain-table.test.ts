import Database from 'better-sqlite3'
import { cpSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { TokenStore } from '../../../src/api/index.js'
import { Chain, signImport } from '../../../src/chain/index.js'
import { Ingest, parseRecords } from '../../../src/ingest/index.js'
import { errorOf, postJson, startTestApi } from '../../helpers/api.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { ingestRefusal } from '../../helpers/ingest.js'
import { petalInProcess } from '../../helpers/cli.js'
import { tmpDir } from '../../helpers/tmp.js'

// A first write to a table that the chain has, from a pending store that does not know it (a
// follower that became a signatory, or a signatory's new data directory), takes the chain's
// definition (user48). It created the table from the rows' own types: a block of `readings` with
// `v TEXT` after blocks with `v INTEGER`, or without the chain's NOT NULL and CHECK constraints.

const alice = fixtureKey('alice')
const open: Array<{ close: () => unknown }> = []
afterEach(async () => { for (const x of open.splice(0).reverse()) await x.close() })

const refusal = ingestRefusal

/** The CREATE TABLE text of `table` in the block at `height`. */
function blockSql (chain: Chain, height: number, table: string): string | undefined {
  const db = new Database(chain.dir.blockPath(height), { readonly: true })
  try {
    return (db.prepare('SELECT sql FROM sqlite_schema WHERE name = ?').get(table) as { sql: string } | undefined)?.sql
  } finally {
    db.close()
  }
}

/**
 * A chain whose block 1 holds `readings` written through ingest (a table created from rows), and
 * `notes` (declared with constraints) and `kv` (WITHOUT ROWID) imported as a file; then a copy of
 * its data directory without pending.db, whose ingest service knows none of them.
 */
async function signatoryWithoutTables (): Promise<{ chain: Chain, ingest: Ingest, dir: string, readingsSql: string }> {
  const { chain: first, dir: a } = await newTestChain({ key: alice })
  const src = join(tmpDir(), 'in.db')
  const db = new Database(src)
  db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL CHECK (length(body) > 0)); INSERT INTO notes (body) VALUES ('x')")
  db.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v) WITHOUT ROWID; INSERT INTO kv VALUES ('a', 1)")
  db.close()
  await signImport(first, src, alice)
  const writer = Ingest.open({ chain: first, key: alice })
  await writer.append('readings', parseRecords('[{"sensor": "a", "v": 1}]', 'json'))
  await writer.sealNow()
  const readingsSql = blockSql(first, 2, 'readings') as string
  expect(readingsSql).toBe('CREATE TABLE "readings" ("sensor" TEXT, "v" INTEGER)')
  await writer.close()
  first.close()
  const b = join(tmpDir(), 'b')
  cpSync(a, b, { recursive: true })
  for (const f of ['pending.db', 'pending.db-wal', 'pending.db-shm']) rmSync(join(b, f), { force: true })
  const chain = Chain.open(b)
  const ingest = Ingest.open({ chain, key: alice })
  open.push(chain, ingest)
  return { chain, ingest, dir: b, readingsSql }
}

describe('a first write to a table the chain has takes the chain\'s definition', () => {
  it('a table created from rows: values of another type are refused with a hint naming the chain\'s definition; a new field adds a column to it', async () => {
    const { chain, ingest, readingsSql } = await signatoryWithoutTables()
    for (const body of ['[{"sensor": "b", "v": "high"}]', '[{"sensor": "b", "v": 2.5}]']) {
      const e = await refusal(ingest.append('readings', parseRecords(body, 'json')))
      expect(e.code, body).toBe('INGEST_TYPE_MISMATCH')
      expect(e.hint).toBe(`column "v" of table readings takes an integer, as the chain defines the table (block 2: ${readingsSql}): send such values, or write the rows to a table of another name`)
    }
    // CSV cells are converted by the chain's column types.
    const csv = await refusal(ingest.append('readings', parseRecords('sensor,v\nb,high\n', 'csv')))
    expect(csv.code).toBe('INGEST_TYPE_MISMATCH')
    const r = await ingest.append('readings', parseRecords('[{"sensor": "b", "v": 2, "extra": "x"}]', 'json'))
    expect(r.created).toBe(false)
    expect(r.addedColumns).toEqual(['extra'])
    // Still a table created from rows: its later rows keep the JSON fast lane.
    expect(ingest.store.tables().get('readings')?.declared).toBeUndefined()
    await ingest.appendRecords('readings', Buffer.from('[{"sensor": "c", "v": 3}]'), 'json')
    await ingest.sealNow()
    expect(blockSql(chain, 3, 'readings')).toBe('CREATE TABLE "readings" ("sensor" TEXT, "v" INTEGER, "extra" TEXT)')
  })

  it('a declared table: its constraints are checked at the append, its definition sealed as it is', async () => {
    const { chain, ingest } = await signatoryWithoutTables()
    const missing = await refusal(ingest.append('notes', parseRecords('[{"id": 7}]', 'json')))
    expect(missing.code).toBe('INGEST_CONSTRAINT')
    expect(missing.hint).toMatch(/^the chain defines the table so \(block 1\): CREATE TABLE notes \(id INTEGER PRIMARY KEY, body TEXT NOT NULL CHECK/)
    expect((await refusal(ingest.append('notes', parseRecords('[{"body": ""}]', 'json')))).code).toBe('INGEST_CONSTRAINT')
    const r = await ingest.append('NOTES', parseRecords('[{"body": "hello"}]', 'json'))
    expect(r).toMatchObject({ table: 'notes', created: false, addedColumns: [] })
    await ingest.sealNow()
    expect(blockSql(chain, 3, 'notes')).toBe(blockSql(chain, 1, 'notes'))
  })

  it('a chain table ingest cannot write (WITHOUT ROWID): refused, with a hint that does not ask to change it', async () => {
    const { ingest } = await signatoryWithoutTables()
    const e = await refusal(ingest.append('kv', parseRecords('[{"k": "b", "v": 2}]', 'json')))
    expect(e.code).toBe('INGEST_BAD_TABLE')
    expect(e.message).toMatch(/^the chain's table kv \(block 1\) cannot take appended rows: .*WITHOUT ROWID/)
    expect(e.hint).toBe('write the rows to a table of another name (the chain\'s table keeps its definition)')
    // As the hint says: another name takes them.
    expect((await ingest.append('kv2', parseRecords('[{"k": "b", "v": 2}]', 'json'))).created).toBe(true)
  })

  it('a NUMERIC column (DATETIME, DECIMAL) takes text as SQLite stores it: a date stays text, text that reads as a number is that number', async () => {
    // Until session 49 ingest's NUMERIC took numbers only: every append to a chain table with a
    // DATETIME column of ISO dates was refused as INGEST_TYPE_MISMATCH, rows like the chain's own.
    const { chain: first } = await newTestChain({ key: alice })
    const src = join(tmpDir(), 'events.db')
    const db = new Database(src)
    db.exec("CREATE TABLE events (at DATETIME, amount DECIMAL(10,2)); INSERT INTO events VALUES ('2026-01-01', '12.50')")
    db.close()
    await signImport(first, src, alice)
    const ingest = Ingest.open({ chain: first, key: alice })
    open.push(first, ingest)
    const json = [{ at: '2026-02-03T04:05:06Z', amount: 3 }, { at: '20260101', amount: '7.25' }, { at: ' 12 ', amount: '1e3' }]
    const blob = await refusal(ingest.append('events', parseRecords('[{"at": {"$base64": "AAE="}}]', 'json')))
    expect(blob.code).toBe('INGEST_TYPE_MISMATCH')
    expect(blob.hint).toContain('takes a number or text, as the chain defines the table (block 1:')
    await ingest.append('events', parseRecords(JSON.stringify(json), 'json'))
    await ingest.append('events', parseRecords('at,amount\n2026-03-01,007\n', 'csv'))
    await ingest.sealNow()
    // The reference: SQLite's own NUMERIC affinity on the same values.
    const ref = new Database(':memory:')
    ref.exec('CREATE TABLE events (at DATETIME, amount DECIMAL(10,2))')
    const insert = ref.prepare('INSERT INTO events VALUES (?, ?)')
    for (const r of json) insert.run(r.at, r.amount)
    insert.run('2026-03-01', '007')
    const read = 'SELECT at, typeof(at) AS t, amount, typeof(amount) AS u FROM events ORDER BY rowid'
    const want = ref.prepare(read).all()
    ref.close()
    const block = new Database(first.dir.blockPath(2), { readonly: true })
    try {
      expect(block.prepare(read).all()).toEqual(want)
    } finally {
      block.close()
    }
    expect(want.map(r => (r as { t: string }).t)).toEqual(['text', 'integer', 'integer', 'text'])
  })

  it('POST /records/{table} answers 422 with the chain\'s definition in its hint', async () => {
    const { dir, ingest, readingsSql } = await signatoryWithoutTables()
    const { server, url } = await startTestApi({ dir, ingest })
    open.push(server)
    const token = TokenStore.of(dir).create({ scope: 'write', name: 'w' }).token
    const r = await postJson(url + 'api/v1/records/readings', [{ sensor: 'b', v: 'high' }], { authorization: `Bearer ${token}` })
    expect(r.status).toBe(422)
    const e = errorOf(r)
    expect(e.code).toBe('INGEST_TYPE_MISMATCH')
    expect(e.hint).toContain(`as the chain defines the table (block 2: ${readingsSql})`)
  })
})

it('petal append on a copy of a signatory\'s directory without its pending.db: the chain\'s types, with a coded error', async () => {
  const work = tmpDir()
  const a = join(work, 'a')
  expect((await petalInProcess(['--dir', a, 'init'])).code).toBe(0)
  writeFileSync(join(work, 'good.json'), '[{"sensor": "a", "v": 1}]')
  writeFileSync(join(work, 'bad.json'), '[{"sensor": "b", "v": "high"}]')
  expect((await petalInProcess(['--dir', a, 'append', 'readings', join(work, 'good.json')])).code).toBe(0)
  expect((await petalInProcess(['--dir', a, 'seal'])).code).toBe(0)
  const b = join(work, 'b')
  cpSync(a, b, { recursive: true })
  for (const f of ['pending.db', 'pending.db-wal', 'pending.db-shm']) rmSync(join(b, f), { force: true })
  const r = await petalInProcess(['--dir', b, 'append', 'readings', join(work, 'bad.json')])
  expect(r.code).not.toBe(0)
  expect(r.stderr).toContain('[INGEST_TYPE_MISMATCH]')
  expect(r.stderr).toContain('hint: column "v" of table readings takes an integer, as the chain defines the table (block 1: CREATE TABLE "readings" ("sensor" TEXT, "v" INTEGER))')
  expect((await petalInProcess(['--dir', b, 'append', 'readings', join(work, 'good.json')])).code).toBe(0)
})

it('signimportblock FILE.json --table T of a table the chain has: the chain\'s types, its definition widened by a new field', async () => {
  const work = tmpDir()
  const a = join(work, 'a')
  expect((await petalInProcess(['--dir', a, 'init'])).code).toBe(0)
  writeFileSync(join(work, 'good.json'), '[{"sensor": "a", "v": 1}]')
  writeFileSync(join(work, 'bad.json'), '[{"sensor": "b", "v": "high"}]')
  writeFileSync(join(work, 'wider.json'), '[{"sensor": "c", "v": 3, "extra": 1.5}]')
  expect((await petalInProcess(['--dir', a, 'signimportblock', join(work, 'good.json'), '--table', 'readings'])).code).toBe(0)
  const bad = await petalInProcess(['--dir', a, 'signimportblock', join(work, 'bad.json'), '--table', 'readings'])
  expect(bad.code).not.toBe(0)
  expect(bad.stderr).toContain('[INGEST_TYPE_MISMATCH]')
  expect(bad.stderr).toContain('as the chain defines the table (block 1: CREATE TABLE "readings" ("sensor" TEXT, "v" INTEGER))')
  expect((await petalInProcess(['--dir', a, 'signimportblock', join(work, 'wider.json'), '--table', 'READINGS'])).code).toBe(0)
  const chain = Chain.open(a, { readonly: true })
  try {
    expect(blockSql(chain, 2, 'readings')).toBe('CREATE TABLE "readings" ("sensor" TEXT, "v" INTEGER, "extra" REAL)')
  } finally {
    chain.close()
  }
})
