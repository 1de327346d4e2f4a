import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildBlock, readBlockFile, type BuildBlockOptions } from '../../../src/block/index.js'
import { outcome } from '../../helpers/block-read.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const key = fixtureKey('alice')
const MAX = 1 << 26

function opts (over: Partial<BuildBlockOptions> & { output: string }): BuildBlockOptions {
  return { key, chainId: 'aa'.repeat(32), height: 7, previousHash: 'bb'.repeat(32), timestamp: '2026-03-01T10:00:00.000Z', maxBytes: MAX, ...over }
}

function userDb (path: string, sql: string): string {
  const db = new Database(path)
  db.exec(sql)
  db.close()
  return path
}

async function validBlock (dir: string): Promise<Buffer> {
  const src = userDb(join(dir, 'u.db'), "CREATE TABLE t (x); INSERT INTO t VALUES (1), ('two')")
  const b = await buildBlock(opts({ source: src, output: join(dir, 'b.db') }))
  return readFileSync(b.path)
}

/** One header change on a copy of a valid block's bytes. */
function edited (bytes: Buffer, edit: (b: Buffer) => Buffer | undefined): Buffer {
  const b = Buffer.from(bytes)
  return edit(b) ?? b
}

describe('the header check on bytes the caller holds (readBlockFile head) against the one on the file', () => {
  const cases: Array<[string, (b: Buffer) => Buffer | undefined]> = [
    ['a valid block', () => undefined],
    ['bad magic', b => { b.write('SQLite format 4', 0, 'latin1'); return undefined }],
    ['page size 3', b => { b.writeUInt16BE(3, 16); return undefined }],
    ['page size 0', b => { b.writeUInt16BE(0, 16); return undefined }],
    ['page size 1 (65536) for a smaller file', b => { b.writeUInt16BE(1, 16); return undefined }],
    ['another legal page size than the file is made of', b => { b.writeUInt16BE(b.readUInt16BE(16) * 2, 16); return undefined }],
    ['WAL write version', b => { b[18] = 2; return undefined }],
    ['WAL read version', b => { b[19] = 2; return undefined }],
    ['format version 3', b => { b[18] = 3; b[19] = 3; return undefined }],
    ['non-standard payload fractions', b => { b[21] = 65; return undefined }],
    ['reserved bytes per page', b => { b[20] = 8; return undefined }],
    ['text encoding 0', b => { b.writeUInt32BE(0, 56); return undefined }],
    ['text encoding 4', b => { b.writeUInt32BE(4, 56); return undefined }],
    ['text encoding 2 (UTF-16le) on a UTF-8 file', b => { b.writeUInt32BE(2, 56); return undefined }],
    ['a page count that disagrees with the length', b => { b.writeUInt32BE(b.readUInt32BE(28) + 1, 28); return undefined }],
    // SQLite takes the length then, and so does the check: a valid block.
    ['a stale page count (version-valid-for differs)', b => { b.writeUInt32BE(b.readUInt32BE(28) + 1, 28); b.writeUInt32BE(b.readUInt32BE(24) + 1, 92); return undefined }],
    ['truncated by a page', b => b.subarray(0, b.length - b.readUInt16BE(16))],
    ['truncated by 100 bytes', b => b.subarray(0, b.length - 100)],
    ['only the first 60 bytes', b => b.subarray(0, 60)],
    ['only the first 100 bytes', b => b.subarray(0, 100)],
    ['empty', () => Buffer.alloc(0)],
    ['text', () => Buffer.from('hello '.repeat(200))]
  ]
  for (const [what, edit] of cases) {
    it(`${what}: the same outcome, given all the bytes, the first 100, or none`, async () => {
      const dir = tmpDir()
      const bytes = edited(await validBlock(dir), edit)
      const path = join(dir, 'edited.db')
      writeFileSync(path, bytes)
      const onDisk = await outcome(readBlockFile(path, { maxBytes: MAX }))
      expect(await outcome(readBlockFile(path, { maxBytes: MAX, head: { bytes, size: bytes.length } }))).toEqual(onDisk)
      expect(await outcome(readBlockFile(path, { maxBytes: MAX, head: { bytes: bytes.subarray(0, 100), size: bytes.length } }))).toEqual(onDisk)
      if (what === 'a valid block' || what.startsWith('a stale page count')) expect(onDisk).toHaveProperty('ok.header.height', 7)
      else expect(onDisk).toHaveProperty('code')
    })
  }

  it('a block over the size limit: BLOCK_TOO_LARGE on both paths', async () => {
    const dir = tmpDir()
    const bytes = await validBlock(dir)
    const path = join(dir, 'b2.db')
    writeFileSync(path, bytes)
    const onDisk = await outcome(readBlockFile(path, { maxBytes: bytes.length - 1 }))
    expect(onDisk).toHaveProperty('code', 'BLOCK_TOO_LARGE')
    expect(await outcome(readBlockFile(path, { maxBytes: bytes.length - 1, head: { bytes, size: bytes.length } }))).toEqual(onDisk)
  })
})

describe('a block whose file is gone when it is checked', () => {
  // With the head, nothing looks at the file before SQLite opens it: a missing file (or its
  // directory, tmp/ removed under a running node) must be FILE_NOT_FOUND, this machine's state,
  // not CORRUPT, a verdict that would blame the peers that served the block.
  it('FILE_NOT_FOUND on both paths, whether the file or its directory is missing', async () => {
    const dir = tmpDir()
    const bytes = await validBlock(dir)
    for (const path of [join(dir, 'absent.db'), join(dir, 'gone', 'b.db')]) {
      const onDisk = await outcome(readBlockFile(path, { maxBytes: MAX }))
      expect(onDisk).toHaveProperty('code', 'FILE_NOT_FOUND')
      expect(await outcome(readBlockFile(path, { maxBytes: MAX, head: { bytes, size: bytes.length } }))).toHaveProperty('code', 'FILE_NOT_FOUND')
    }
  })
})

describe('table descriptions through PRAGMA statements (not the pragma_* table-valued functions)', () => {
  it('give the columns and primary-key index SQLite reports for any table name, quotes and keywords included', async () => {
    const dir = tmpDir()
    const names = ["it's", 'say "hi"', 'on', 'DELETE', 'default', 'select', 'ünï cødé', "a''b", 'x)y', 'semi;colon']
    const ddl = names.flatMap((n, i) => {
      const q = '"' + n.replaceAll('"', '""') + '"'
      return i % 2 === 0
        ? [`CREATE TABLE ${q} (a, "b'c" TEXT, "rowid2" INT); INSERT INTO ${q} VALUES (${i}, 'x', 1)`]
        : [`CREATE TABLE ${q} (k1 TEXT, k2 INT, v, PRIMARY KEY (k2, k1)) WITHOUT ROWID; INSERT INTO ${q} VALUES ('a', ${i}, NULL)`]
    }).join('; ')
    const src = userDb(join(dir, 'names.db'), ddl)
    const b = await buildBlock(opts({ source: src, output: join(dir, 'b.db') }))
    const file = await readBlockFile(b.path, { maxBytes: MAX })
    // The reference: the table-valued functions with the name bound, as before.
    const db = new Database(b.path, { readonly: true })
    try {
      expect(file.userTables.map(t => t.name).sort()).toEqual([...names].sort())
      for (const t of file.userTables) {
        const cols = db.prepare("SELECT name FROM pragma_table_xinfo(?, 'main')").pluck().all(t.name)
        expect(t.columns, t.name).toEqual(cols)
        if (t.withoutRowid) {
          expect(t.primaryKey).toEqual(['k2', 'k1'])
          expect(t.primaryKeyIndex).toBe(db.prepare("SELECT name FROM pragma_index_list(?, 'main') WHERE origin = 'pk'").pluck().get(t.name))
        } else {
          expect(t.rowidAlias).toBe('rowid')
        }
      }
    } finally {
      db.close()
    }
    expect(file.tables.map(t => t.rows)).toEqual(names.map(() => 1))
  })
})
