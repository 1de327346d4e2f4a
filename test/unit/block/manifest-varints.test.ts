// Varints in a longer form than SQLite writes them (test/helpers/manifest-varints.ts): SQLite reads
// any form, so the fast manifest path must read them as it does or decline, never a third answer.
// A seeded differential fuzz of such mutants (test/helpers/manifest-fuzz.ts compares every path),
// and the serial types past 32 bits that SQLite reads as 0xffffffff (a corrupt record), which the
// JavaScript encoder wrapped to the size of the type 2^32 below them.
import Database from 'better-sqlite3'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { inspectSchema, openBlockReadonly } from '../../../src/block/index.js'
import { BtreeUnsupported } from '../../../src/block/btree.js'
import { fastTableRoot, planFastTable } from '../../../src/block/fast-rows.js'
import { dropKeptHeld } from '../../../src/block/held-db.js'
import { merkleHasher } from '../../../src/crypto/index.js'
import { newCounts, runMutant } from '../../helpers/manifest-fuzz.js'
import { seedBlock } from '../../helpers/manifest-mutants.js'
import { readVarint, setSerialType } from '../../helpers/manifest-varints.js'
import { tmpDir } from '../../helpers/tmp.js'

const SEEDS = [13, 18, 19, 10]
const MUTANTS = 8

describe('varints in a longer form on the fast manifest path', () => {
  it('gives the reference answer or declines, on every path', async () => {
    const dir = tmpDir()
    dropKeptHeld()
    const counts = newCounts()
    const native = merkleHasher().hasher === 'native'
    for (const seed of SEEDS) {
      const s = await seedBlock(dir, seed, true)
      for (let i = 0; i < MUTANTS; i++) {
        const m = await runMutant(dir, s, seed, i, counts, native, { varints: true })
        // Replay: node --import tsx scripts/manifest-fuzz.ts --small --varints --seed SEED --files 1 --only I
        expect(m.found, `--seed ${seed} --only ${i}: ${m.what}`).toEqual([])
      }
    }
    // SQLite reads most of them: the fast path must too.
    expect(counts.quickOk).toBeGreaterThan(counts.mutants / 2)
    expect(counts.fastAnswered).toBeGreaterThan(counts.quickOk)
  }, 120_000)

  // A text's serial type + 2^32 had the JavaScript encoder reading it as a string of ~2^31 bytes
  // and more: a UTF-16 block had it allocate and swap that many bytes (or throw a RangeError), a
  // UTF-8 one write the next value past its buffer (a RangeError): uncoded errors on a file SQLite
  // reads as corrupt, where the fast path is to decline.
  for (const encoding of ['UTF-8', 'UTF-16be', 'UTF-16le']) {
    it(`declines a serial type past 32 bits (${encoding})`, () => {
      const dir = tmpDir()
      const path = join(dir, 'wide.db')
      const db = new Database(path)
      db.pragma(`encoding = '${encoding}'`)
      db.exec('CREATE TABLE t (a TEXT, r REAL, b BLOB)')
      const ins = db.prepare('INSERT INTO t VALUES (?, ?, ?)')
      for (let i = 0; i < 40; i++) ins.run(`text ${i}`, i / 3, Buffer.from([i]))
      const root = db.prepare<[], number>("SELECT rootpage FROM sqlite_schema WHERE name = 't'").pluck().get() ?? 0
      db.close()
      const b = readFileSync(path)
      const ps = b.readUInt16BE(16)
      // Cell 0's record: its text's serial type (field 0), plus 2^32 times 1…3.
      const at = (root - 1) * ps + b.readUInt16BE((root - 1) * ps + 8)
      const rec = at + readVarint(b, at)[1] + readVarint(b, at + readVarint(b, at)[1])[1]
      const [t] = readVarint(b, rec + readVarint(b, rec)[1])
      for (const k of [1n, 3n]) {
        const m = Buffer.from(b)
        expect(setSerialType(m, root, 0, 0, t + (k << 32n), 9)).toBe(true)
        writeFileSync(path, m)
        const rdb = openBlockReadonly(path)
        try {
          const [table] = inspectSchema(rdb, 'input').userTables
          const plan = table === undefined ? undefined : planFastTable(rdb, table)
          if (plan === undefined) throw new Error('no plan')
          // SQLite: the record is corrupt.
          expect(() => rdb.prepare('SELECT * FROM t').all()).toThrow(/malformed/)
          for (const mode of ['js', 'wasm', 'auto'] as const) expect(() => fastTableRoot(path, plan, undefined, mode)).toThrow(BtreeUnsupported)
        } finally {
          rdb.close()
        }
      }
    })
  }
})
