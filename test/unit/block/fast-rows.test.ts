// The fast manifest path (rows read from the file's b-tree pages) against the reference (rows read
// through SQLite): the same row count and root on random tables of every storage class, page sizes
// 512…65536, UTF-8 and UTF-16 databases, WITHOUT ROWID tables, overflow pages, and every fixture.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import Database from 'better-sqlite3'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { availableParallelism } from 'node:os'
import { inspectSchema, openBlockReadonly, tableRoot, TableRootPool, tableRootParallel, type UserTable } from '../../../src/block/index.js'
import { BtreeUnsupported } from '../../../src/block/btree.js'
import { PageFile } from '../../../src/block/page-file.js'
import { fastTableLeaves, fastTableRoot, planFastTable, type FastPlan } from '../../../src/block/fast-rows.js'
import { nativeRows } from '../../../src/block/native-rows.js'
import { CHUNK_ROWS } from '../../../src/block/parallel-roots.js'
import { toHex } from '../../../src/util/index.js'
import { nativeBuild } from '../../helpers/native-build.js'
import { makeDb, rng } from '../../helpers/random-tables.js'
import { tmpDir } from '../../helpers/tmp.js'


function reference (db: Database.Database, t: UserTable): { rows: number, root: string } {
  return tableRoot(db, t)
}

/**
 * Each table's root by the fast path with each leaf encoder (JavaScript only; WebAssembly from the
 * first row, JavaScript for the rows it hands back) against the reference. `wasmRows`: rows the
 * WebAssembly encoder encoded, so a test can check it was exercised.
 */
function compareAll (path: string): { fast: string[], fallback: string[], wasmRows: number } {
  const db = openBlockReadonly(path)
  const fast: string[] = []
  const fallback: string[] = []
  let wasmRows = 0
  try {
    for (const t of inspectSchema(db, 'input').userTables) {
      const plan = planFastTable(db, t)
      const ref = reference(db, t)
      if (plan === undefined) { fallback.push(t.name); continue }
      const outcomes = (['js', 'wasm'] as const).map(mode => {
        try {
          const r = fastTableRoot(path, plan, undefined, mode)
          expect({ table: t.name, mode, rows: r.rows, root: toHex(r.root) }).toEqual({ table: t.name, mode, ...ref })
          if (mode === 'js') expect(r.wasmRows).toBe(0)
          wasmRows += r.wasmRows
          return 'fast'
        } catch (err) {
          if (!(err instanceof BtreeUnsupported)) throw err
          return 'fallback'
        }
      })
      // Both encoders read a table or both refuse it.
      expect({ table: t.name, wasm: outcomes[1] }).toEqual({ table: t.name, wasm: outcomes[0] })
      // And so does the native row walker, from the file's bytes held, with the same root.
      if (nativeRows() !== undefined) expect({ table: t.name, native: nativeOutcome(path, plan, ref) }).toEqual({ table: t.name, native: outcomes[0] })
      ;(outcomes[0] === 'fast' ? fast : fallback).push(t.name)
    }
  } finally {
    db.close()
  }
  return { fast, fallback, wasmRows }
}

/** The native row walker's reading of a table (its decline not followed by the JavaScript walker), checked against `ref`. */
function nativeOutcome (path: string, plan: FastPlan, ref: { rows: number, root: string }): 'fast' | 'fallback' {
  try {
    const r = fastTableRoot(path, plan, undefined, 'native', readFileSync(path))
    expect({ rows: r.rows, root: toHex(r.root) }).toEqual(ref)
    return 'fast'
  } catch (err) {
    if (!(err instanceof BtreeUnsupported)) throw err
    return 'fallback'
  }
}

// Each hasher of the manifest's leaves: the native one (required: a bundle that did not find it
// fails, the worker threads' too) when `npm run build` built it and the CPU has SHA-256
// instructions, and the WebAssembly fallback.
for (const hasher of nativeBuild().accelerated ? ['native', 'wasm'] as const : ['wasm'] as const) {
describe(`fast manifest path against the reference (${hasher} SHA-256)`, () => {
  beforeAll(() => { vi.stubEnv('PETAL_NATIVE_SHA256', hasher === 'native' ? '1' : '0') })
  afterAll(() => { vi.unstubAllEnvs() })
  const dir = tmpDir()
  for (const pageSize of [512, 1024, 4096, 65536]) {
    for (const encoding of ['UTF-8', 'UTF-16le', 'UTF-16be']) {
      it(`gives the reference's roots: page size ${pageSize}, ${encoding}`, () => {
        const path = join(dir, `r-${pageSize}-${encoding}.db`)
        const rows = pageSize >= 65536 ? 40 : 150
        makeDb(path, pageSize, encoding, pageSize + encoding.length, rows)
        const { fast, fallback, wasmRows } = compareAll(path)
        // Only what cannot be read with certainty goes the reference way: a DESC key, a key whose
        // collation is not the column's, a row without a column that has a DEFAULT.
        expect(fallback.sort()).toEqual(['added', 'wr_desc', 'wr_mixed'])
        expect(fast).toContain('plain')
        expect(fast).toContain('wr')
        // The WebAssembly encoder serves UTF-8 databases (UTF-16 text is converted in JavaScript).
        if (encoding === 'UTF-8') expect(wasmRows).toBeGreaterThan(2 * rows)
        else expect(wasmRows).toBe(0)
      })
    }
  }

  it('gives the reference roots of every fixture block', () => {
    const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'blocks')
    let tables = 0
    let nativeTables = 0
    let wasmRows = 0
    for (const f of readdirSync(fixtures).filter(n => n.endsWith('.db'))) {
      // Not a rollback-journal file (WAL): opening it would create -wal/-shm files next to it.
      const head = readFileSync(join(fixtures, f)).subarray(0, 20)
      if (head.length < 20 || head[18] !== 1 || head[19] !== 1) continue
      let db: Database.Database
      try { db = openBlockReadonly(join(fixtures, f)) } catch { continue }
      let userTables: UserTable[] = []
      try { userTables = inspectSchema(db, 2).userTables } catch { /* not a readable v2 block: nothing to compare */ }
      for (const t of userTables) {
        const plan = planFastTable(db, t)
        let ref: { rows: number, root: string } | undefined
        try { ref = reference(db, t) } catch { /* corrupt: the reference cannot read it either */ }
        if (plan === undefined || ref === undefined) continue
        for (const mode of ['js', 'wasm', ...(nativeRows() === undefined ? [] : ['native'] as const)] as const) {
          try {
            const r = fastTableRoot(join(fixtures, f), plan, undefined, mode)
            expect({ f, mode, rows: r.rows, root: toHex(r.root) }).toEqual({ f, mode, ...ref })
            tables++
            if (mode === 'native') nativeTables++
            wasmRows += r.wasmRows
          } catch (err) {
            if (!(err instanceof BtreeUnsupported)) throw err
          }
        }
      }
      db.close()
    }
    expect(tables).toBeGreaterThan(10)
    expect(wasmRows).toBeGreaterThan(0)
    if (nativeRows() !== undefined) expect(nativeTables).toBeGreaterThan(5)
  })

  it('hashes a large table in worker threads from its pages to the reference root', async () => {
    const path = join(dir, 'big.db')
    const db = new Database(path)
    db.pragma('page_size = 1024')
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, a, b REAL)')
    const ins = db.prepare('INSERT INTO t VALUES (?, ?, ?)')
    const n = 4 * CHUNK_ROWS + 777
    db.transaction(() => { for (let i = 0; i < n; i++) ins.run(i * 3 - 9999, i % 5 === 0 ? Buffer.alloc(i % 2000, 1) : `row ${i}`, i / 4) })()
    const [t] = inspectSchema(db, 'input').userTables
    if (t === undefined) throw new Error('no table')
    const pool = new TableRootPool(2)
    try {
      // One message per thread, whatever the number of chunks: the threads take chunks from a
      // shared counter, so they keep hashing while the calling thread is busy (signimportblock
      // runs quick_check on it meanwhile); one message per chunk left them waiting for it.
      const run = vi.spyOn(pool, 'run')
      let reported = 0
      expect(await tableRootParallel(path, db, t, pool, undefined, rows => { reported += rows })).toEqual(tableRoot(db, t))
      // One message per thread of the pool (two threads); none where threads are not used.
      expect(run.mock.calls.length).toBe(availableParallelism() >= 2 ? 2 : 0)
      expect(reported).toBe(n)
      // An aborted caller stops the threads and gets ABORTED, not a root.
      const ac = new AbortController()
      ac.abort()
      await expect(tableRootParallel(path, db, t, pool, ac.signal)).rejects.toMatchObject({ code: 'ABORTED' })
      // The pool still serves the next table after that.
      expect(await tableRootParallel(path, db, t, pool)).toEqual(tableRoot(db, t))
    } finally {
      await pool.close()
      db.close()
    }
  })

  it('gives the reference root for long invalid UTF-8 text (each bad byte becomes a 3-byte U+FFFD), and for short random bytes as text', () => {
    const path = join(dir, 'bad-utf8.db')
    const db = new Database(path)
    db.exec('CREATE TABLE t (a TEXT, b); CREATE TABLE r (a TEXT)')
    const ins = db.prepare("INSERT INTO t VALUES (CAST(? AS TEXT), ?)")
    // Enough rows that some leaf ends near the end of the hashing buffer, whatever its slack.
    db.transaction(() => { for (let i = 0; i < 400; i++) ins.run(Buffer.alloc(3000 + i * 7, 0xff), i) })()
    // Bytes around UTF-8's boundaries (lead bytes, continuations, E0/ED/F0/F4's narrower second
    // byte, truncated sequences): each decoded as Node decodes it, by the native walker too.
    const pool = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff]
    const r = rng(57)
    const insR = db.prepare('INSERT INTO r VALUES (CAST(? AS TEXT))')
    db.transaction(() => { for (let i = 0; i < 3000; i++) insR.run(Buffer.from(Array.from({ length: Math.floor(r() * 9) }, () => pool[Math.floor(r() * pool.length)] ?? 0))) })()
    for (const t of inspectSchema(db, 'input').userTables) {
      const plan = planFastTable(db, t)
      if (plan === undefined) throw new Error('no plan')
      const ref = tableRoot(db, t)
      for (const mode of ['auto', 'js', ...(nativeRows() === undefined ? [] : ['native'] as const)] as const) {
        const got = fastTableRoot(path, plan, undefined, mode)
        expect({ table: t.name, mode, rows: got.rows, root: toHex(got.root) }).toEqual({ table: t.name, mode, ...ref })
      }
    }
    db.close()
  })

  it('reads a stored NaN as NULL, as SQLite does, with either encoder', () => {
    const path = join(dir, 'nan.db')
    const db = new Database(path)
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, a REAL, b)')
    const ins = db.prepare('INSERT INTO t (a, b) VALUES (?, ?)')
    const marker = 1234.5678
    db.transaction(() => { for (let i = 0; i < 300; i++) ins.run(i % 3 === 0 ? marker : i / 8, i % 5 === 0 ? Infinity : `b${i}`) })()
    db.close()
    // SQLite never writes a NaN; a crafted file can hold one: the marker's bytes become NaNs.
    const bytes = readFileSync(path)
    const needle = Buffer.alloc(8)
    needle.writeDoubleBE(marker)
    const nans = ['7ff8000000000000', 'fff0000000000001', '7fffffffffffffff'].map(h => Buffer.from(h, 'hex'))
    let patched = 0
    for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 8)) nans[patched++ % 3]?.copy(bytes, at)
    // (old copies of cells in pages' free space hold the marker too)
    expect(patched).toBeGreaterThanOrEqual(100)
    writeFileSync(path, bytes)
    const check = openBlockReadonly(path)
    try {
      expect(check.prepare('SELECT count(*) FROM t WHERE a IS NULL').pluck().get()).toBe(100)
      const [t] = inspectSchema(check, 'input').userTables
      const plan = t === undefined ? undefined : planFastTable(check, t)
      if (t === undefined || plan === undefined) throw new Error('no plan')
      for (const mode of ['js', 'wasm'] as const) {
        const r = fastTableRoot(path, plan, undefined, mode)
        expect({ mode, rows: r.rows, root: toHex(r.root) }).toEqual({ mode, ...tableRoot(check, t) })
        if (mode === 'wasm') expect(r.wasmRows).toBe(300)
      }
    } finally {
      check.close()
    }
  })

  it('gives the reference root for rows around the size where a row starts to overflow its page, with either encoder', () => {
    for (const pageSize of [512, 4096]) {
      const path = join(dir, `edge-${pageSize}.db`)
      const db = new Database(path)
      db.pragma(`page_size = ${pageSize}`)
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB, c TEXT)')
      const ins = db.prepare('INSERT INTO t (b, c) VALUES (?, ?)')
      // Payloads from 60 bytes under the largest that stays on the page to 20 over it.
      db.transaction(() => {
        for (let n = pageSize - 100; n < pageSize - 15; n++) {
          ins.run(Buffer.alloc(n, n & 0xff), null)
          ins.run(null, 'c'.repeat(n))
        }
      })()
      try {
        const [t] = inspectSchema(db, 'input').userTables
        const plan = t === undefined ? undefined : planFastTable(db, t)
        if (t === undefined || plan === undefined) throw new Error('no plan')
        for (const mode of ['js', 'wasm'] as const) {
          const r = fastTableRoot(path, plan, undefined, mode)
          expect({ pageSize, mode, rows: r.rows, root: toHex(r.root) }).toEqual({ pageSize, mode, ...tableRoot(db, t) })
          if (mode === 'wasm') expect(r.wasmRows).toBeGreaterThan(50)
        }
      } finally {
        db.close()
      }
    }
  })

  it('leaves to the reference a table whose short records lack a column with a DEFAULT, with either encoder', () => {
    const path = join(dir, 'short.db')
    const db = new Database(path)
    db.exec('CREATE TABLE t (a, b)')
    const ins = db.prepare('INSERT INTO t VALUES (?, ?)')
    db.transaction(() => { for (let i = 0; i < 50; i++) ins.run(i, 'x') })()
    db.exec('ALTER TABLE t ADD COLUMN c; ALTER TABLE t ADD COLUMN d REAL DEFAULT 2; INSERT INTO t VALUES (1, 2, 3, 4)')
    try {
      const [t] = inspectSchema(db, 'input').userTables
      const plan = t === undefined ? undefined : planFastTable(db, t)
      if (plan === undefined) throw new Error('no plan')
      for (const mode of ['js', 'wasm', 'native'] as const) expect(() => fastTableRoot(path, plan, undefined, mode), mode).toThrow(BtreeUnsupported)
    } finally {
      db.close()
    }
  })

  it('refuses an interior cell whose child page number crosses the page\'s end, as SQLite does', () => {
    // 358 pages of 512 bytes: a page number of the form 256·k is in range. The root's first cell
    // is moved to 3 bytes before the end, which read 00 00 01: the walker took the missing fourth
    // byte for a zero, page 256, and walked on.
    const path = join(dir, 'crossing.db')
    const db = new Database(path)
    db.pragma('page_size = 512')
    db.exec('CREATE TABLE filler (a); CREATE TABLE t (a)')
    const fill = db.prepare('INSERT INTO filler VALUES (?)')
    const ins = db.prepare('INSERT INTO t VALUES (?)')
    db.transaction(() => {
      for (let i = 0; i < 1200; i++) fill.run('f'.repeat(100) + String(i))
      for (let i = 0; i < 200; i++) ins.run('x'.repeat(100) + String(i))
    })()
    const root = (db.prepare("SELECT rootpage FROM sqlite_schema WHERE name = 't'").get() as { rootpage: number }).rootpage
    db.close()
    const b = readFileSync(path)
    const page = (root - 1) * 512
    expect(b[page]).toBe(0x05)
    expect(b.length / 512).toBeGreaterThan(256)
    b.writeUInt16BE(512 - 3, page + 12)
    b.set([0, 0, 1], page + 512 - 3)
    writeFileSync(path, b)
    // SQLite's integrity check refuses the cell ("Offset 509 out of range"; or the page, as
    // malformed); a query reads the fourth byte from past its page buffer, whatever is there.
    const check = new Database(path, { readonly: true })
    try {
      let verdict: string
      try { verdict = String(check.pragma('integrity_check', { simple: true })) } catch (err) { verdict = String(err) }
      expect(verdict).not.toBe('ok')
    } finally {
      check.close()
    }
    const bdb = openBlockReadonly(path)
    try {
      const plan = planFastTable(bdb, inspectSchema(bdb, 'input').userTables.find(u => u.name === 't') as UserTable)
      expect(plan).toBeDefined()
      if (plan === undefined) return
      for (const mode of ['js', 'wasm', 'native'] as const) expect(() => fastTableRoot(path, plan, undefined, mode), mode).toThrow(BtreeUnsupported)
      expect(() => fastTableLeaves(path, plan)).toThrow(BtreeUnsupported)
    } finally {
      bdb.close()
    }
  })

  it('refuses what it cannot read with certainty: a WAL file, a page reached twice', () => {
    const wal = join(dir, 'wal.db')
    const db = new Database(wal)
    db.pragma('journal_mode = WAL')
    db.exec('CREATE TABLE t (a)')
    db.close()
    expect(() => new PageFile(wal)).toThrow(BtreeUnsupported)
    const plain = join(dir, 'twice.db')
    makeDb(plain, 4096, 'UTF-8', 1, 5)
    const f = new PageFile(plain)
    try {
      f.mark(2)
      expect(() => { f.mark(2) }).toThrow(BtreeUnsupported)
    } finally {
      f.close()
    }
  })
})
}
