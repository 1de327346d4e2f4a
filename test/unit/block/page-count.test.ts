// The fast page reader (btree.ts) reads the pages of the database as SQLite counts them: the file
// header's page count when it is authoritative ("version-valid-for" equal to the change counter),
// else the file's. A b-tree child moved past an authoritative count is not part of the database:
// SQLite refuses the table (SQLITE_CORRUPT), and until session 47 the page reader read it and gave
// the table's rows and root. SQLite is the oracle, as in the manifest's fuzz (manifest-fuzz.ts).
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { inspectSchema, openBlockReadonly } from '../../../src/block/index.js'
import { BtreeUnsupported } from '../../../src/block/btree.js'
import { fastTableRoot, planFastTable } from '../../../src/block/fast-rows.js'
import { movePastEnd } from '../../helpers/manifest-varints.js'
import { rng } from '../../helpers/random-tables.js'
import { tableReadings } from '../../helpers/table-readings.js'
import { tmpDir } from '../../helpers/tmp.js'

const readings = (path: string): ReturnType<typeof tableReadings> => tableReadings(path, ['wasm'])

describe('the page reader and the header\'s page count', () => {
  it('declines a table whose page lies past an authoritative page count, where SQLite refuses it; reads it where SQLite does (failed before session 47: it gave the rows)', () => {
    const dir = tmpDir()
    const base = join(dir, 'base.db')
    const db = new Database(base)
    db.pragma('page_size = 1024')
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
    const ins = db.prepare('INSERT INTO t (v) VALUES (?)')
    for (let i = 0; i < 400; i++) ins.run(`row ${i} ${'x'.repeat(i % 50)}`)
    const root = db.prepare<[], number>("SELECT rootpage FROM sqlite_schema WHERE name = 't'").pluck().get() ?? 0
    db.close()
    const bytes = readFileSync(base)
    expect(bytes[(root - 1) * 1024]).toBe(0x05) // an interior page: its children can be moved
    const whole = readings(base)
    expect(whole.sqlite).toMatchObject({ rows: 400 })
    const tried = [0, 0, 0]
    for (const header of [0, 1, 2] as const) {
      for (let seed = 1; seed <= 4; seed++) {
        const moved = movePastEnd(Buffer.from(bytes), [root], rng(seed), header)
        if (moved === undefined) continue
        tried[header] = (tried[header] ?? 0) + 1
        const path = join(dir, `h${header}-${seed}.db`)
        writeFileSync(path, moved[0])
        const { sqlite, fast } = readings(path)
        if (header === 0) {
          // The count left as it was: the moved page is past it, and SQLite will not read it.
          expect(sqlite, moved[1]).toMatchObject({ refused: expect.stringMatching(/malformed/) })
          for (const f of fast) expect(f, moved[1]).toMatchObject({ refused: expect.stringMatching(/^declined: page \d+ out of range/) })
        } else {
          // The count updated, or not authoritative (the file's length counts): the same rows as before.
          expect(sqlite, moved[1]).toEqual(whole.sqlite)
          for (const f of fast) expect(f, moved[1]).toEqual(whole.sqlite)
        }
      }
    }
    for (const n of tried) expect(n).toBeGreaterThan(0)
  })

  it('declines a file whose authoritative header counts more pages than it has (SQLite: corrupt at the open)', () => {
    const dir = tmpDir()
    const path = join(dir, 'a.db')
    const db = new Database(path)
    db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1), ('two')")
    db.close()
    const plan = (() => {
      const d = openBlockReadonly(path)
      try { return planFastTable(d, inspectSchema(d, 'input').userTables[0] as never) } finally { d.close() }
    })()
    if (plan === undefined) throw new Error('no plan')
    const b = readFileSync(path)
    b.writeUInt32BE(b.readUInt32BE(28) + 1, 28)
    writeFileSync(path, b)
    expect(() => new Database(path, { readonly: true }).prepare('SELECT count(*) FROM t').get()).toThrow(/malformed/)
    expect(() => fastTableRoot(path, plan, undefined, 'wasm')).toThrow(BtreeUnsupported)
  })
})
