// The kept held connection (held-db.ts) against block bytes a peer chooses (review46, after
// fuzz45's two fixes): every value of the header's text-encoding word, and refused blocks whose
// views name eponymous virtual tables (json_each, pragma_*), which SQLite creates once per
// connection with a pointer to the schema of `main` that the next block's swap frees. Each read on
// held bytes gives the verdict the file gives on a connection of its own, block after block.
import { beforeEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { readBlockFile } from '../../../src/block/index.js'
import { dropKeptHeld } from '../../../src/block/held-db.js'
import { MAX_BLOCK_BYTES, head, outcome, sqlBlock } from '../../helpers/block-read.js'
import { nativeHeldDbBuilt } from '../../helpers/native-build.js'
import { tmpDir } from '../../helpers/tmp.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const held = async (path: string): Promise<unknown> => {
  const bytes = readFileSync(path)
  return await outcome(readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES, head: head(bytes, 4096), bytes }))
}
const fromFile = async (path: string): Promise<unknown> => await outcome(readBlockFile(path, { maxBytes: MAX_BLOCK_BYTES }))
const plain = (o: unknown): unknown => typeof o === 'object' && o !== null && 'ok' in o ? { ok: { ...(o.ok as object), path: undefined } } : o

const TABLES = "CREATE TABLE w (k TEXT, n INTEGER, v, PRIMARY KEY (k, n)) WITHOUT ROWID; CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) INSERT INTO w SELECT 'k' || i, i % 7, 'ä-' || i FROM c; INSERT INTO t (s) SELECT 'ü' || k FROM w"

beforeEach(() => { dropKeptHeld() })

describe.skipIf(!nativeHeldDbBuilt())('the kept held connection against hostile blocks (review46)', () => {
  it('every value of the text-encoding word (offset 56): one verdict on held bytes, after a UTF-8 block, and from the file', async () => {
    const dir = tmpDir()
    const good = await sqlBlock(dir, 'good', TABLES)
    expect(good.bytes.readUInt32BE(56)).toBe(1)
    for (const v of [0, 1, 2, 3, 4, 5, 6, 7, 8, 0x101, 0x80000001, 0xffffffff]) {
      const path = join(dir, `enc-${v}.db`)
      const b = Buffer.from(good.bytes)
      b.writeUInt32BE(v, 56)
      writeFileSync(path, b)
      // The kept connection took a UTF-8 block just before (its encoding fixed at UTF-8).
      expect(await held(good.path)).toMatchObject({ ok: {} })
      expect(plain(await held(path)), `encoding word ${v}`).toEqual(plain(await fromFile(path)))
      gc()
    }
    expect(plain(await held(good.path))).toEqual(plain(await fromFile(good.path)))
  })

  it('refused blocks whose views name eponymous virtual tables, between valid blocks with WITHOUT ROWID tables: one verdict each, block after block', async () => {
    const dir = tmpDir()
    const good = await sqlBlock(dir, 'good', TABLES)
    const views = ["SELECT * FROM json_each('[1,2]')", "SELECT * FROM pragma_table_info('t')", "SELECT * FROM pragma_index_list('w')", "SELECT value FROM json_tree('{\"a\":[1]}')"]
    const refused = views.map((sql, i) => {
      const path = join(dir, `view-${i}.db`)
      copyFileSync(good.path, path)
      const db = new Database(path)
      db.exec(`CREATE VIEW v${i} AS ${sql}`)
      db.close()
      return path
    })
    for (let round = 0; round < 3; round++) {
      for (const path of refused) {
        expect(await held(good.path)).toMatchObject({ ok: {} })
        const r = await held(path)
        expect(r).toMatchObject({ code: 'SCHEMA_NOT_ALLOWED' })
        expect(plain(r)).toEqual(plain(await fromFile(path)))
        gc()
      }
    }
    expect(plain(await held(good.path))).toEqual(plain(await fromFile(good.path)))
  })
})
