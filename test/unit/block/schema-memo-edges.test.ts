// Edges of readBlockFile's reuse of the schema's reads (schema-memo.ts) that its premise, "page 1
// has the very bytes of the last block's", rests on: the whole page must be compared (a range
// hands 4,096 bytes, less than page 1 at a larger page size), and what decides whether the schema
// loads at all besides page 1 (the file's length, when the header's page count is not valid) must
// still refuse the block, with the same code and message.
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readBlockFile } from '../../../src/block/index.js'
import { head, MAX_BLOCK_BYTES, outcome, pageSize, prepared, sqlBlock } from '../../helpers/block-read.js'
import { tmpDir } from '../../helpers/tmp.js'

const MAX = MAX_BLOCK_BYTES
const block = sqlBlock

describe('the schema memo\'s premise', () => {
  it('compares the whole of page 1: at 8,192-byte pages a 4,096-byte head is not page 1', async () => {
    const dir = tmpDir()
    const a = await block(dir, 'a', 'CREATE TABLE t (x); INSERT INTO t VALUES (1)', 8192)
    const b = await block(dir, 'b', 'CREATE TABLE u (x); INSERT INTO u VALUES (1)', 8192)
    expect(pageSize(a.bytes)).toBe(8192)
    // The premise of the test: the first 4,096 bytes agree (header, cell pointers, free space),
    // the schema's cells at the end of page 1 do not.
    expect(a.bytes.subarray(0, 4096).equals(b.bytes.subarray(0, 4096))).toBe(true)
    expect(a.bytes.subarray(0, 8192).equals(b.bytes.subarray(0, 8192))).toBe(false)
    for (const n of [4096, 8192, a.bytes.length]) {
      expect((await readBlockFile(a.path, { maxBytes: MAX, head: head(a.bytes, n) })).userTables.map(t => t.name)).toEqual(['t'])
      expect((await readBlockFile(b.path, { maxBytes: MAX, head: head(b.bytes, n) })).userTables.map(t => t.name)).toEqual(['u'])
    }
  })

  it('a block of the same page 1 but fewer pages than a table\'s root (the header\'s page count not valid) is refused as without the memo', async () => {
    const dir = tmpDir()
    const a = await block(dir, 'a', "CREATE TABLE t (x); INSERT INTO t VALUES (1), ('two')")
    const size = pageSize(a.bytes)
    // The in-header page count is valid only while "version-valid-for" (offset 92) equals the
    // change counter (24); otherwise SQLite takes the page count from the file's length.
    const bytes = Buffer.from(a.bytes)
    bytes.writeUInt32BE(bytes.readUInt32BE(24) + 1, 92)
    const full = join(dir, 'full.db')
    writeFileSync(full, bytes)
    const ro = new Database(full, { readonly: true })
    const roots = ro.prepare<[], number>('SELECT max(rootpage) FROM sqlite_schema').pluck().get() ?? 0
    ro.close()
    expect(roots).toBeGreaterThan(2)
    // The same page 1 over a file cut to fewer pages than the largest root page: SQLite finds the
    // schema malformed (a root page past the end), which the reads it would have made show.
    const cut = bytes.subarray(0, (roots - 1) * size)
    const short = join(dir, 'short.db')
    writeFileSync(short, cut)
    const without = await outcome(readBlockFile(short, { maxBytes: MAX }))
    expect(without).toMatchObject({ code: 'CORRUPT', message: expect.stringMatching(/malformed database schema/) })
    // With the memo: the whole file passes first (its reads remembered), then the short one.
    expect((await readBlockFile(full, { maxBytes: MAX, head: head(bytes, size) })).userTables.map(t => t.name)).toEqual(['t'])
    let got: unknown
    const seen = await prepared(async () => { got = await outcome(readBlockFile(short, { maxBytes: MAX, head: head(cut, size) })) })
    expect(got).toEqual(without)
    // The memo was in play: the schema's own reads were not made for the short file.
    expect(seen.some(s => s.includes('sqlite_schema'))).toBe(false)
  })
})
