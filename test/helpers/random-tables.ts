// Random test databases for the fast manifest path and the page reader: every storage class,
// overflowing values, rowid and WITHOUT ROWID tables, any page size and text encoding.
import Database from 'better-sqlite3'

/** Deterministic PRNG (mulberry32), so a failure reproduces. */
export function rng (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const INTS = [0n, 1n, -1n, 127n, -128n, 32767n, -32768n, 8388607n, -8388608n, 2147483647n, -2147483648n, 140737488355327n, -140737488355328n, 9007199254740993n, 9223372036854775807n, -9223372036854775808n]
const REALS = [0.5, -0.0, 1e300, -2.5e-300, Infinity, -Infinity, 3.0, 1e15, 123456.789]
const TEXTS = ['', 'a', 'hé', '日本語', '😀 emoji', 'nul\u0000inside', 'x'.repeat(700)]

/** A random value of any storage class; sizes up to several pages so rows overflow. */
function value (r: () => number, big: number): unknown {
  const k = Math.floor(r() * 8)
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T
  switch (k) {
    case 0: return null
    case 1: return pick(INTS)
    case 2: return BigInt(Math.floor((r() - 0.5) * 2 ** 40))
    case 3: return r() < 0.5 ? pick(REALS) : (r() - 0.5) * 1e6
    case 4: return pick(TEXTS)
    case 5: return 't' + 'é'.repeat(Math.floor(r() * big))
    case 6: return Buffer.alloc(Math.floor(r() * big), Math.floor(r() * 256))
    default: return Math.floor(r() * 1000)
  }
}

export const TABLES = [
  'CREATE TABLE plain (a, b INTEGER, c REAL, d TEXT, e BLOB, f NUMERIC, g FLOAT, h VARCHAR(10), i DOUBLE PRECISION)',
  'CREATE TABLE ipk (id INTEGER PRIMARY KEY, x, y REAL)',
  'CREATE TABLE ipk_desc (id INTEGER PRIMARY KEY DESC, x)',
  'CREATE TABLE ipk_desc2 (id INTEGER, x, PRIMARY KEY (id DESC))',
  'CREATE TABLE wr (k TEXT, n INTEGER, v, w REAL, PRIMARY KEY (k, n)) WITHOUT ROWID',
  'CREATE TABLE wr_int (n INTEGER PRIMARY KEY, v) WITHOUT ROWID',
  'CREATE TABLE wr_desc (k TEXT PRIMARY KEY DESC, v) WITHOUT ROWID',
  'CREATE TABLE wr_nocase (k TEXT COLLATE NOCASE PRIMARY KEY, v) WITHOUT ROWID',
  'CREATE TABLE wr_mixed (k TEXT COLLATE NOCASE, v, PRIMARY KEY (k COLLATE BINARY)) WITHOUT ROWID',
  'CREATE TABLE added (a, b)',
  'CREATE TABLE st (i INT, r REAL, t TEXT, b BLOB, x ANY) STRICT'
]

export function makeDb (path: string, pageSize: number, encoding: string, seed: number, rows: number): void {
  const r = rng(seed)
  const db = new Database(path)
  db.pragma(`page_size = ${pageSize}`)
  db.pragma(`encoding = '${encoding}'`)
  for (const sql of TABLES) db.exec(sql)
  // Values up to three pages (overflow chains), and at most 40 KB so the large-page runs stay quick.
  const big = Math.min(pageSize * 3, 40_000)
  db.transaction(() => {
    const plain = db.prepare('INSERT INTO plain VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
    const ipk = db.prepare('INSERT INTO ipk VALUES (?, ?, ?)')
    const ipkDesc = db.prepare('INSERT INTO ipk_desc VALUES (?, ?)')
    const ipkDesc2 = db.prepare('INSERT INTO ipk_desc2 VALUES (?, ?)')
    const wr = db.prepare('INSERT OR IGNORE INTO wr VALUES (?, ?, ?, ?)')
    const wrInt = db.prepare('INSERT OR IGNORE INTO wr_int VALUES (?, ?)')
    const wrDesc = db.prepare('INSERT OR IGNORE INTO wr_desc VALUES (?, ?)')
    const wrNocase = db.prepare('INSERT OR IGNORE INTO wr_nocase VALUES (?, ?)')
    const wrMixed = db.prepare('INSERT OR IGNORE INTO wr_mixed VALUES (?, ?)')
    const added = db.prepare('INSERT INTO added VALUES (?, ?)')
    const strict = db.prepare('INSERT INTO st VALUES (?, ?, ?, ?, ?)')
    const v = (): unknown => value(r, big)
    for (let i = 0; i < rows; i++) {
      plain.run(v(), v(), v(), v(), v(), v(), v(), v(), v())
      // Sparse, negative and huge rowids.
      ipk.run(r() < 0.1 ? null : BigInt(Math.floor((r() - 0.5) * 2 ** 62)), v(), v())
      ipkDesc.run(i * 3 - 100, v())
      ipkDesc2.run(i * 5 - 1000, v())
      wr.run(`k${Math.floor(r() * 1e6)}${'z'.repeat(Math.floor(r() * big / 4))}`, Math.floor(r() * 10), v(), v())
      wrInt.run(BigInt(Math.floor((r() - 0.5) * 2 ** 50)), v())
      wrDesc.run(`d${i}`, v())
      wrNocase.run(`${r() < 0.5 ? 'A' : 'a'}${i}`, v())
      wrMixed.run(`${r() < 0.5 ? 'B' : 'b'}${i % 50}-${i}`, v())
      added.run(v(), v())
      strict.run(r() < 0.2 ? null : BigInt(Math.floor((r() - 0.5) * 2 ** 40)), r() < 0.5 ? Math.floor(r() * 100) : r() * 100, `s${i}`, Buffer.alloc(i % 7, i), v())
    }
    // Invalid UTF-8 stored as TEXT (only meaningful in a UTF-8 database).
    if (encoding === 'UTF-8') db.prepare("INSERT INTO plain (a, d) VALUES (CAST(x'ff61c3' AS TEXT), CAST(x'e282' AS TEXT))").run()
  })()
  // Rows written before these columns existed read NULL or the DEFAULT.
  db.exec("ALTER TABLE added ADD COLUMN c; ALTER TABLE added ADD COLUMN d REAL DEFAULT 2; INSERT INTO added VALUES (1, 2, 3, 4)")
  db.close()
}
