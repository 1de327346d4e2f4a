// Plain verify's page reader keeps the last schema it parsed from page 1, keyed by that page's
// bytes: a block whose page 1 is the same gets it without parsing again. That is only sound when
// the schema was read from page 1 alone; these tests hold it to that.
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildBlock, readBlockFile, readBlockPages } from '../../../src/block/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const PAGE = 1024

async function block (dir: string, name: string, ddl: string, height: number): Promise<string> {
  const src = join(dir, `${name}-src.db`)
  const db = new Database(src)
  db.pragma(`page_size = ${PAGE}`)
  db.exec(ddl)
  db.close()
  const built = await buildBlock({
    source: src, output: join(dir, `${name}.db`), key: fixtureKey('alice'), chainId: 'aa'.repeat(32), height, previousHash: 'bb'.repeat(32),
    timestamp: '2026-03-01T10:00:00.000Z', maxBytes: 1 << 26
  })
  return built.path
}

describe('the page reader\'s schema of page 1', () => {
  it('serves blocks that share page 1 what parsing each gives, in any order', async () => {
    const dir = tmpDir()
    const a = await block(dir, 'a', 'CREATE TABLE t (x)', 1)
    const b = await block(dir, 'b', 'CREATE TABLE t (x)', 2)
    const c = await block(dir, 'c', 'CREATE TABLE u (y, z)', 3)
    expect(readFileSync(a).subarray(0, PAGE)).toEqual(readFileSync(b).subarray(0, PAGE))
    const full = async (p: string): Promise<unknown> => ({ ...await readBlockFile(p, { maxBytes: 1 << 26, quickCheck: false, checkManifest: false }), userTables: [] })
    for (const p of [a, b, c, b, a, c, c]) expect(readBlockPages(p, 1 << 26, readFileSync(p))).toEqual(await full(p))
  })

  it('parses again a schema that continues past page 1, whose page 1 alone does not decide it', async () => {
    const dir = tmpDir()
    // A CREATE statement of ~3 pages: its end is on an overflow page, not on page 1.
    const cols = Array.from({ length: 150 }, (_, i) => `column_number_${i} TEXT`).join(', ')
    const x = await block(dir, 'x', `CREATE TABLE wide (${cols}, zzmarkerzz TEXT)`, 1)
    const bytes = readFileSync(x)
    // The copy of the statement in sqlite_schema (the other is _tables' row): changed there only,
    // the schema disagrees with _tables, which the page reader must see.
    let y: string | undefined
    for (let at = bytes.indexOf('zzmarkerzz', PAGE); at >= 0 && y === undefined; at = bytes.indexOf('zzmarkerzz', at + 1)) {
      const changed = Buffer.from(bytes)
      changed[at] = 'y'.charCodeAt(0)
      const path = join(dir, `y${at}.db`)
      writeFileSync(path, changed)
      const db = new Database(path, { readonly: true })
      const sql = db.prepare<[], string>("SELECT sql FROM sqlite_schema WHERE name = 'wide'").pluck().get()
      db.close()
      if (sql?.includes('yzmarkerzz') === true) y = path
    }
    if (y === undefined) throw new Error('the schema\'s copy of the statement is not past page 1')
    expect(readFileSync(y).subarray(0, PAGE)).toEqual(bytes.subarray(0, PAGE))
    expect(readBlockPages(x, 1 << 26, bytes)).toBeDefined()
    // Read after x, with the same page 1: still its own schema, so it is left to the SQLite read.
    expect(readBlockPages(y, 1 << 26, readFileSync(y))).toBeUndefined()
    expect(readBlockPages(x, 1 << 26, bytes)).toBeDefined()
  })
})
