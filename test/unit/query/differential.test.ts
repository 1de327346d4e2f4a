import Database from 'better-sqlite3'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signImport, type Chain } from '../../../src/chain/index.js'
import type { SqlValue } from '../../../src/block/index.js'
import { createFormatter, QuerySandbox } from '../../../src/query/index.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { referenceRows, rowsOf, sqliteFile, textOf } from '../../helpers/query.js'
import { tmpDir } from '../../helpers/tmp.js'

// Differential test: a random chain (many blocks, NULLs, BLOBs, integers beyond 2^53, several
// tables, columns added over time, a table name spelled two ways) against ONE plain SQLite
// database holding the same rows; every statement must give identical results in both.
const SEED = 0x5eed2026
const BLOCKS = 160
const EXTRA_FROM = 60 // events gains `extra INTEGER`
const TAG_FROM = 110 // events gains `tag TEXT COLLATE NOCASE`

function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const rnd = mulberry32(SEED)
const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1))
const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)] as T
const maybe = <T>(v: () => T, pNull = 0.15): T | null => (rnd() < pNull ? null : v())

const KEYS = ['alpha', 'Alpha', 'beta', 'gamma', 'delta', 'é-clé', '日本', '']
const BIG = [2n ** 53n + 1n, -(2n ** 53n) - 3n, 9223372036854775807n, -9223372036854775808n, 0n, 123456789012345678n]
const TEXT = ['', 'plain', 'with "quotes"', "it's", 'two\nlines', 'café é', '🌸 petal', 'tab\tsep', 'NULL', 'x'.repeat(40)]
const TAGS = ['red', 'Red', 'RED', 'blue', 'Blue', 'green']

interface Generated { height: number, events: SqlValue[][], users: SqlValue[][], tags: SqlValue[][], tagsName: string }

function generate (height: number): Generated {
  const events: SqlValue[][] = []
  const users: SqlValue[][] = []
  const tags: SqlValue[][] = []
  if (rnd() < 0.8) {
    for (let id = 1, n = int(0, 10); id <= n; id++) {
      events.push([BigInt(id), maybe(() => pick(KEYS)), maybe(() => BigInt(int(-50, 50))), maybe(() => pick(BIG), 0.4),
        maybe(() => pick([int(-1e6, 1e6) / 100, 0.5, -0.0, 1e300, 2 ** 60, 1 / 3])), maybe(() => new Uint8Array(Array.from({ length: int(0, 8) }, () => int(0, 255)))),
        maybe(() => pick(TEXT)), ...(height >= EXTRA_FROM ? [maybe(() => BigInt(int(0, 9)))] : []), ...(height >= TAG_FROM ? [maybe(() => pick(TAGS))] : [])])
    }
  }
  if (rnd() < 0.4) {
    const uids = [...new Set(Array.from({ length: int(0, 6) }, () => int(-50, 50)))].sort((a, b) => a - b)
    for (const uid of uids) users.push([BigInt(uid), maybe(() => pick(TEXT)), maybe(() => BigInt(int(0, 100)))])
  }
  if (rnd() < 0.3) for (let i = 0, n = int(1, 5); i < n; i++) tags.push([maybe(() => pick(KEYS)), maybe(() => pick(TAGS))])
  return { height, events, users, tags, tagsName: rnd() < 0.5 ? 'Tags' : 'tags' }
}

function eventsDdl (height: number): string {
  return 'CREATE TABLE events (id INTEGER PRIMARY KEY, k TEXT, v INTEGER, big INTEGER, r REAL, b BLOB, note TEXT' +
    (height >= EXTRA_FROM ? ', extra INTEGER' : '') + (height >= TAG_FROM ? ', tag TEXT COLLATE NOCASE' : '') + ')'
}

function insertAll (db: Database.Database, table: string, rows: SqlValue[][], prefix: SqlValue[] = []): void {
  if (rows.length === 0) return
  const ins = db.prepare(`INSERT INTO "${table}" VALUES (${[...prefix, ...(rows[0] as SqlValue[])].map(() => '?').join(', ')})`)
  for (const r of rows) ins.run(...prefix, ...r)
}

const QUERIES: Array<{ name: string, sql: string }> = [
  { name: 'aggregates', sql: 'SELECT count(*), count(k), count(v), sum(v), min(big), max(big), total(v), count(b), count(extra), count(tag) FROM events' },
  { name: 'group by', sql: 'SELECT k, count(*), sum(v), min(v), max(v), round(avg(v), 9) FROM events GROUP BY k ORDER BY k' },
  { name: 'group by a NOCASE column', sql: 'SELECT lower(tag), count(*) FROM events WHERE tag IS NOT NULL GROUP BY tag ORDER BY 1' },
  { name: 'having', sql: 'SELECT _height, count(*) FROM events GROUP BY _height HAVING count(*) > 3 ORDER BY _height' },
  { name: 'join across tables', sql: 'SELECT e._height, e.id, e.k, u.name, e.v, u.score FROM events e JOIN users u ON u.uid = e.v AND u._height <= e._height ORDER BY e._height, e.id, u._height, u.uid LIMIT 300' },
  { name: 'left join with _blocks', sql: 'SELECT b.height, b.hash, b.signer, count(e.id) FROM _blocks b LEFT JOIN events e ON e._height = b.height GROUP BY b.height ORDER BY b.height' },
  { name: 'order by + limit', sql: 'SELECT _height, id, v, big FROM events ORDER BY big DESC NULLS LAST, _height, id LIMIT 25' },
  { name: 'full rows', sql: 'SELECT * FROM events ORDER BY _height DESC, id DESC LIMIT 60' },
  { name: 'window: row_number and moving sum', sql: 'SELECT _height, id, k, row_number() OVER (PARTITION BY k ORDER BY v, _height, id), sum(v) OVER (PARTITION BY k ORDER BY _height, id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM events ORDER BY _height, id' },
  { name: 'window: rank, lag, ntile', sql: 'SELECT k, v, rank() OVER (ORDER BY v DESC NULLS LAST), lag(note) OVER (ORDER BY _height, id), ntile(4) OVER (ORDER BY _height, id) FROM events ORDER BY _height, id LIMIT 300' },
  { name: 'blob and type census', sql: 'SELECT typeof(b), length(b), hex(b), count(*) FROM events GROUP BY 1, 2, 3 ORDER BY 1, 2, 3' },
  { name: 'reals', sql: 'SELECT r, typeof(r) FROM events WHERE r IS NOT NULL ORDER BY r, _height, id LIMIT 80' },
  { name: 'group_concat ordered', sql: "SELECT k, group_concat(note, '|' ORDER BY _height, id) FROM events GROUP BY k ORDER BY k" },
  { name: 'columns added later are NULL before', sql: `SELECT count(*), count(extra), count(tag) FROM events WHERE _height < ${EXTRA_FROM}` },
  { name: 'a table spelled Tags and tags', sql: 'SELECT label, count(*) FROM tags GROUP BY label ORDER BY 2 DESC, 1 LIMIT 10' },
  { name: 'WITHOUT ROWID table', sql: 'SELECT * FROM users ORDER BY _height, uid' },
  { name: 'distinct + union', sql: 'SELECT k FROM events UNION SELECT label FROM TAGS ORDER BY 1' },
  { name: 'cte', sql: 'WITH per AS (SELECT _height h, count(*) n FROM events GROUP BY _height) SELECT max(n), min(n), sum(n), count(*) FROM per' },
  { name: 'scalar subqueries', sql: 'SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM tags), (SELECT count(*) FROM _blocks), (SELECT max(uid) FROM users)' },
  { name: 'like on unicode text', sql: "SELECT _height, id, k, note FROM events WHERE note LIKE '%é%' OR k LIKE '日%' ORDER BY _height, id" },
  { name: 'correlated subquery', sql: 'SELECT u.uid, count(DISTINCT u._height), max(u.score), (SELECT count(*) FROM events e WHERE e.v = u.uid) FROM users u GROUP BY u.uid ORDER BY u.uid' }
]

describe(`differential: ${BLOCKS} random blocks vs one SQLite file (seed ${SEED})`, () => {
  let chain: Chain
  let sandbox: QuerySandbox
  const ref = new Database(':memory:')

  beforeAll(async () => {
    const key = fixtureKey('alice')
    ;({ chain } = await newTestChain({ key }))
    sandbox = new QuerySandbox(chain.dir.root)
    ref.exec(`CREATE TABLE events (_height INTEGER NOT NULL, id INTEGER, k TEXT, v INTEGER, big INTEGER, r REAL, b BLOB, note TEXT, extra INTEGER, tag TEXT COLLATE NOCASE);
      CREATE TABLE users (_height INTEGER NOT NULL, uid INTEGER, name TEXT, score INTEGER);
      CREATE TABLE Tags (_height INTEGER NOT NULL, k TEXT, label TEXT);`)
    const work = tmpDir()
    for (let h = 1; h <= BLOCKS; h++) {
      const g = generate(h)
      const withEvents = g.events.length > 0 || rnd() < 0.3 // sometimes an empty table
      const file = !withEvents && g.users.length + g.tags.length === 0 ? undefined : sqliteFile(join(work, `b${h}.db`), db => {
        if (withEvents) db.exec(eventsDdl(h))
        if (g.users.length > 0) db.exec('CREATE TABLE users (uid INTEGER NOT NULL PRIMARY KEY, name TEXT, score INTEGER) WITHOUT ROWID')
        if (g.tags.length > 0) db.exec(`CREATE TABLE ${g.tagsName} (k TEXT, label TEXT)`)
        insertAll(db, 'events', g.events)
        insertAll(db, 'users', [...g.users].reverse()) // stored in key order whatever the insert order
        insertAll(db, g.tagsName, g.tags)
      })
      const r = await signImport(chain, file, key)
      expect(r.block.height).toBe(h)
      const cols = ['id', 'k', 'v', 'big', 'r', 'b', 'note', ...(h >= EXTRA_FROM ? ['extra'] : []), ...(h >= TAG_FROM ? ['tag'] : [])]
      const ins = ref.prepare(`INSERT INTO events (_height, ${cols.join(', ')}) VALUES (?, ${cols.map(() => '?').join(', ')})`)
      for (const row of g.events) ins.run(h, ...row)
      insertAll(ref, 'users', g.users, [h])
      insertAll(ref, 'Tags', g.tags, [h])
    }
    ref.exec('CREATE TABLE _blocks (height INTEGER PRIMARY KEY, hash TEXT, parent TEXT, signer TEXT, timestamp TEXT, time INTEGER, size INTEGER, rows_root TEXT)')
    const insB = ref.prepare('INSERT INTO _blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    for (const b of chain.index.range(0, BLOCKS, BLOCKS + 1)) insB.run(b.height, b.hash, b.parent, b.signer, b.timestamp, Date.parse(b.timestamp), b.size, b.rowsRoot)
  }, 120_000)

  afterAll(async () => {
    await sandbox?.close()
    chain?.close()
    ref.close()
  })

  it('holds the same rows', async () => {
    for (const t of ['events', 'users', 'tags', '_blocks']) {
      expect((await rowsOf(chain, sandbox, `SELECT count(*) FROM ${t}`)).rows, t).toEqual(referenceRows(ref, `SELECT count(*) FROM ${t}`).rows)
    }
    expect(referenceRows(ref, 'SELECT count(*) FROM events').rows[0]?.[0]).toBeGreaterThan(300n)
  })

  for (const q of QUERIES) {
    it(q.name, async () => {
      const want = referenceRows(ref, q.sql)
      const got = await rowsOf(chain, sandbox, q.sql)
      expect(got.columns).toEqual(want.columns)
      expect(got.rows).toEqual(want.rows)
      expect(got.rows.length, 'a query that returns nothing proves little').toBeGreaterThan(0)
    })
  }

  it('prints the same NDJSON as the reference rows would', async () => {
    for (const q of QUERIES.filter(x => ['full rows', 'reals', 'WITHOUT ROWID table'].includes(x.name))) {
      const want = referenceRows(ref, q.sql)
      const f = createFormatter('ndjson')
      expect(await textOf(chain, sandbox, q.sql)).toBe(f.header(want.columns) + f.rows(want.rows) + f.end({ rowCount: want.rows.length }))
    }
  })
})
