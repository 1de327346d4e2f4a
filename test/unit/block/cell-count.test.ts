// The fast page reader (btree.ts) checks a b-tree page as SQLite does when it reads one with the
// cell size check on, as every connection to a block is (hardenReadonly): a cell count of at most
// (page size - 8) / 6, a child page with at least one cell, an interior root with at least one,
// every cell pointer past the pointer array and at most 4 bytes (5 on an interior page) from the
// usable end. Until session 48 a child leaf whose cell count was set to 0 was read as a page without
// rows, where SQLite refuses the table (edges47's finding: `manifest-fuzz --small --seed 11 --only 6`).
// SQLite is the oracle, as in the manifest's fuzz (manifest-fuzz.ts).
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fastChunkNodes, fastTableLeaves } from '../../../src/block/fast-rows.js'
import { MerkleBuilder } from '../../../src/crypto/index.js'
import { fastAnswer, tableReadings } from '../../helpers/table-readings.js'
import { tmpDir } from '../../helpers/tmp.js'

const PAGE = 1024

/** Table t read by SQLite and by the page reader: whole with each encoder, from the file and from its bytes, and in chunks of 64 rows as worker threads read it. */
function readings (path: string): ReturnType<typeof tableReadings> {
  return tableReadings(path, ['js', 'wasm'], plan => [fastAnswer(() => {
    const { pages, cells } = fastTableLeaves(path, plan)
    const tree = new MerkleBuilder()
    const all = cells.reduce((a, b) => a + b, 0)
    let rows = 0
    for (let skip = 0; skip < all; skip += 64) {
      // The chunk's first leaf and the cells before it there (rowChunks' split, in short).
      let first = 0
      let before = 0
      while (first < pages.length && before + (cells[first] ?? 0) <= skip) before += cells[first++] ?? 0
      const r = fastChunkNodes(path, plan, pages.slice(first), skip - before, Math.min(64, all - skip), 'wasm')
      for (const n of r.nodes) tree.pushSubtree(n.hash, n.size)
      rows += r.rows
    }
    return { rows, root: tree.root() }
  })])
}

/** A table of 400 rows over several leaves of 1 KiB pages under an interior root, its root and leaves. */
function base (dir: string): { path: string, bytes: Buffer, root: number, leaves: number[] } {
  const path = join(dir, 'base.db')
  const db = new Database(path)
  db.pragma(`page_size = ${PAGE}`)
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
  const ins = db.prepare('INSERT INTO t (v) VALUES (?)')
  for (let i = 0; i < 400; i++) ins.run(`row ${i} ${'x'.repeat(i % 50)}`)
  const root = db.prepare<[], number>("SELECT rootpage FROM sqlite_schema WHERE name = 't'").pluck().get() ?? 0
  const leaves = db.prepare<[], number>("SELECT pageno FROM dbstat WHERE name = 't' AND pagetype = 'leaf' ORDER BY path").pluck().all()
  db.close()
  return { path, bytes: readFileSync(path), root, leaves }
}

const count = (b: Buffer, page: number): number => b.readUInt16BE((page - 1) * PAGE + 3)
const setCount = (b: Buffer, page: number, n: number): void => { b.writeUInt16BE(n, (page - 1) * PAGE + 3) }
const setPointer = (b: Buffer, page: number, i: number, at: number, hsize = 8): void => { b.writeUInt16BE(at, (page - 1) * PAGE + hsize + 2 * i) }

describe('the page reader and a page\'s cell count and pointers', () => {
  it('declines every change SQLite refuses the table for, and reads the others as SQLite does', () => {
    const dir = tmpDir()
    const { path, bytes, root, leaves } = base(dir)
    expect(bytes[(root - 1) * PAGE]).toBe(0x05)
    expect(leaves.length).toBeGreaterThan(4)
    const whole = readings(path)
    expect(whole.sqlite).toMatchObject({ rows: 400 })
    for (const f of whole.fast) expect(f).toEqual(whole.sqlite)
    const leaf = leaves[2] ?? 0
    const n = count(bytes, leaf)
    const mutants: Array<[string, (b: Buffer) => void, 'refused' | 'read']> = [
      // edges47's: a child leaf's count set to 0 (the fast path read the table without its rows).
      ['a child leaf\'s count set to 0', b => { setCount(b, leaf, 0) }, 'refused'],
      ['the last leaf\'s count set to 0', b => { setCount(b, leaves.at(-1) ?? 0, 0) }, 'refused'],
      ['the interior root\'s count set to 0', b => { setCount(b, root, 0) }, 'refused'],
      ['a leaf\'s count one more (a pointer read from the free space)', b => { setCount(b, leaf, n + 1) }, 'refused'],
      ['a leaf\'s count past what a page holds', b => { setCount(b, leaf, Math.floor((PAGE - 8) / 6) + 1) }, 'refused'],
      ['a pointer into the pointer array', b => { setPointer(b, leaf, 0, 8 + 2 * n - 2) }, 'refused'],
      ['a pointer 3 bytes from the end', b => { setPointer(b, leaf, n - 1, PAGE - 3) }, 'refused'],
      ['an interior pointer 4 bytes from the end', b => { setPointer(b, root, 0, PAGE - 4, 12) }, 'refused'],
      // Fewer cells: SQLite reads fewer rows (quick_check refuses the file, but the table reads).
      ['a leaf\'s count one less', b => { setCount(b, leaf, n - 1) }, 'read']
    ]
    for (const [what, change, expected] of mutants) {
      const b = Buffer.from(bytes)
      change(b)
      const p = join(dir, `${what.replace(/\W+/g, '-')}.db`)
      writeFileSync(p, b)
      const { sqlite, fast } = readings(p)
      if (expected === 'refused') {
        expect(sqlite, what).toMatchObject({ refused: expect.stringMatching(/malformed/) })
        for (const f of fast) expect(f, what).toMatchObject({ refused: expect.stringMatching(/^declined: /) })
      } else {
        expect(sqlite, what).toMatchObject({ rows: 399 })
        for (const f of fast) expect(f, what).toEqual(sqlite)
      }
    }
  })
})
