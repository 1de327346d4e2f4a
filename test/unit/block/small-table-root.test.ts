// A small table's root in one call (session 25): leavesRoot (the native addon's merkleRoot, else
// MerkleBuilder) against MerkleBuilder leaf by leaf, and smallTableRoot (the build's SQLite path for
// tables of at most 256 rows) against tableRoot (the reference) on random tables of every kind:
// NULLs, 64-bit integers at the range's ends, reals, text in UTF-8 and UTF-16, BLOBs, rows that
// overflow their page, WITHOUT ROWID tables, an added column; on both paths of the addon.
import { afterEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { inspectSchema, smallTableRoot, tableRoot } from '../../../src/block/index.js'
import { leavesRoot, MerkleBuilder, prefixedLeafHash } from '../../../src/crypto/index.js'
import { opensslPath, resetNativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { toHex } from '../../../src/util/index.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'
import { tmpDir } from '../../helpers/tmp.js'
import { rng } from '../../helpers/random-tables.js'

const saved = process.env.PETAL_NATIVE_SHA256
afterEach(() => {
  if (saved === undefined) delete process.env.PETAL_NATIVE_SHA256
  else process.env.PETAL_NATIVE_SHA256 = saved
  resetNativeOpenssl()
})

const PATHS = nativeOpensslBuilt() ? ['native', 'node:crypto'] as const : ['node:crypto'] as const

function on<T> (path: 'native' | 'node:crypto', f: () => T): T {
  if (path === 'native') delete process.env.PETAL_NATIVE_SHA256
  else process.env.PETAL_NATIVE_SHA256 = '0'
  resetNativeOpenssl()
  expect(opensslPath().path).toBe(path)
  return f()
}

/** `n` random leaves (0x00 ‖ 0–200 random bytes) in one buffer and their ends. */
function leaves (r: () => number, n: number): { buf: Buffer, ends: Uint32Array, each: Buffer[] } {
  const each = Array.from({ length: n }, () => Buffer.concat([Buffer.of(0), Buffer.from(Array.from({ length: Math.floor(r() * 201) }, () => Math.floor(r() * 256)))]))
  const ends = new Uint32Array(n)
  let at = 0
  each.forEach((l, i) => { at += l.length; ends[i] = at })
  return { buf: Buffer.concat(each), ends, each }
}

function builderRoot (each: Buffer[]): string {
  const b = new MerkleBuilder()
  for (const l of each) b.push(prefixedLeafHash(l))
  return toHex(b.root())
}

describe('leavesRoot', () => {
  for (const path of PATHS) {
    it(`gives MerkleBuilder's root for 0 to 300 leaves (${path})`, () => {
      on(path, () => {
        const r = rng(25)
        for (let n = 0; n <= 300; n++) {
          const { buf, ends, each } = leaves(r, n)
          expect(toHex(leavesRoot(buf, ends)), `${n} leaves`).toBe(builderRoot(each))
        }
      })
    })

    it(`refuses ends out of order or past the buffer (${path})`, () => {
      on(path, () => {
        const buf = Buffer.alloc(10)
        expect(() => leavesRoot(buf, Uint32Array.of(5, 4))).toThrow(RangeError)
        expect(() => leavesRoot(buf, Uint32Array.of(11))).toThrow(RangeError)
        expect(toHex(leavesRoot(buf, Uint32Array.of(0, 10)))).toBe(builderRoot([buf.subarray(0, 0), buf]))
      })
    })
  }
})

const INTS = [0n, 1n, -1n, 127n, -128n, 2147483647n, -2147483648n, 9007199254740993n, 9223372036854775807n, -9223372036854775808n]
const REALS = [0.5, -0.0, 1e300, -2.5e-300, Infinity, -Infinity, 3.0, 123456.789]
const TEXTS = ['', 'a', 'hé', '日本語', '😀 emoji', 'nul\u0000inside']

function value (r: () => number, big: number): unknown {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T
  switch (Math.floor(r() * 7)) {
    case 0: return null
    case 1: return pick(INTS)
    case 2: return pick(REALS)
    case 3: return pick(TEXTS)
    case 4: return 't' + 'é'.repeat(Math.floor(r() * big))
    case 5: return Buffer.alloc(Math.floor(r() * big), Math.floor(r() * 256))
    default: return Math.floor(r() * 1000)
  }
}

const TABLES = [
  'CREATE TABLE plain (a, b INTEGER, c REAL, d TEXT, e BLOB)',
  'CREATE TABLE ipk (id INTEGER PRIMARY KEY, x, y REAL)',
  'CREATE TABLE ipk_desc (id INTEGER PRIMARY KEY DESC, x)',
  'CREATE TABLE wr (k TEXT, n INTEGER, v, PRIMARY KEY (k, n)) WITHOUT ROWID',
  'CREATE TABLE wr_nocase (k TEXT COLLATE NOCASE PRIMARY KEY, v) WITHOUT ROWID',
  'CREATE TABLE added (a, b)',
  'CREATE TABLE empty (a)'
]

function makeDb (path: string, pageSize: number, encoding: string, seed: number, rows: number): void {
  const r = rng(seed)
  const db = new Database(path)
  db.pragma(`page_size = ${pageSize}`)
  db.pragma(`encoding = '${encoding}'`)
  for (const sql of TABLES) db.exec(sql)
  // Values up to twice the page size: some rows overflow their page.
  const big = pageSize * 2
  db.transaction(() => {
    const v = (): unknown => value(r, big)
    for (let i = 0; i < rows; i++) {
      db.prepare('INSERT INTO plain VALUES (?, ?, ?, ?, ?)').run(v(), v(), v(), v(), v())
      db.prepare('INSERT INTO ipk VALUES (?, ?, ?)').run(r() < 0.1 ? null : BigInt(Math.floor((r() - 0.5) * 2 ** 62)), v(), v())
      db.prepare('INSERT INTO ipk_desc VALUES (?, ?)').run(i * 3 - 100, v())
      db.prepare('INSERT OR IGNORE INTO wr VALUES (?, ?, ?)').run(`k${Math.floor(r() * 1e6)}`, Math.floor(r() * 10), v())
      db.prepare('INSERT OR IGNORE INTO wr_nocase VALUES (?, ?)').run(`${r() < 0.5 ? 'A' : 'a'}${i}`, v())
      db.prepare('INSERT INTO added VALUES (?, ?)').run(v(), v())
    }
  })()
  db.exec('ALTER TABLE added ADD COLUMN c; ALTER TABLE added ADD COLUMN d REAL DEFAULT 2; INSERT INTO added VALUES (1, 2, 3, 4)')
  db.close()
}

describe('smallTableRoot', () => {
  for (const path of PATHS) {
    for (const [pageSize, encoding, rows] of [[512, 'UTF-8', 40], [4096, 'UTF-16le', 120], [1024, 'UTF-8', 256]] as const) {
      it(`gives the reference root and count of every table: page size ${pageSize}, ${encoding}, ${rows} rows (${path})`, () => {
        on(path, () => {
          const file = join(tmpDir(), 'small.db')
          makeDb(file, pageSize, encoding, pageSize + rows, rows)
          const db = new Database(file, { readonly: true })
          try {
            const tables = inspectSchema(db, 'input').userTables
            expect(tables.map(t => t.name).sort()).toEqual(['added', 'empty', 'ipk', 'ipk_desc', 'plain', 'wr', 'wr_nocase'])
            for (const t of tables) {
              let counted = 0
              expect(smallTableRoot(db, t, n => { counted += n }), t.name).toEqual(tableRoot(db, t))
              expect(counted, t.name).toBe(tableRoot(db, t).rows)
            }
          } finally {
            db.close()
          }
        })
      })
    }
  }
})
