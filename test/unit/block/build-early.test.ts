// Building with table-hashing threads starts the manifest before quick_check: the roots must be the
// reference's, and an input that fails quick_check must still be refused as CORRUPT.
import { afterAll, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildBlock, CHUNK_ROWS, inspectSchema, openBlockReadonly, tableRoot, TableRootPool, type BuildBlockOptions } from '../../../src/block/index.js'
import { isPetalError } from '../../../src/util/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const key = fixtureKey('alice')
const dir = tmpDir()
const pool = new TableRootPool(2)
afterAll(async () => { await pool.close() })

function opts (source: string, output: string): BuildBlockOptions {
  return { source, output, key, chainId: 'aa'.repeat(32), height: 7, previousHash: 'bb'.repeat(32), timestamp: '2026-03-01T10:00:00.000Z', maxBytes: 1 << 28, pool }
}

/** A table large enough to be hashed by the threads, and a small one hashed on this thread. */
function source (path: string): string {
  const db = new Database(path)
  db.pragma('page_size = 1024')
  db.exec('CREATE TABLE big (id INTEGER PRIMARY KEY, s TEXT, r REAL, b BLOB); CREATE TABLE small (k TEXT PRIMARY KEY, v) WITHOUT ROWID')
  const big = db.prepare('INSERT INTO big (s, r, b) VALUES (?, ?, ?)')
  const small = db.prepare('INSERT INTO small VALUES (?, ?)')
  db.transaction(() => {
    for (let i = 0; i < 4 * CHUNK_ROWS + 99; i++) big.run(i % 9 === 0 ? `é ${i}` : `row ${i}`, i / 3, i % 7 === 0 ? Buffer.alloc(i % 50, i) : null)
    for (let i = 0; i < 300; i++) small.run(`k${i}`, i)
  })()
  db.close()
  return path
}

describe('building with table-hashing threads', () => {
  const src = source(join(dir, 'src.db'))

  it('commits to the reference roots of every table', async () => {
    const built = await buildBlock(opts(src, join(dir, 'out.db')))
    const db = openBlockReadonly(built.path)
    try {
      const tables = inspectSchema(db, 2).userTables
      expect(tables.map(t => t.name)).toEqual(['big', 'small'])
      expect(built.manifest.tables.map(t => ({ name: t.name, rows: t.rows, root: t.root }))).toEqual(tables.map(t => ({ name: t.name, ...tableRoot(db, t) })))
    } finally {
      db.close()
    }
  })

  it('refuses an input that fails quick_check as CORRUPT, though its schema reads', async () => {
    const bad = join(dir, 'bad.db')
    const bytes = readFileSync(src)
    // A leaf page of `big` in the middle of the file gets an invalid page type.
    bytes[Math.floor(bytes.length / 1024 / 2) * 1024] = 0x01
    writeFileSync(bad, bytes)
    const db = new Database(bad, { readonly: true })
    expect(inspectSchema(db, 'input').userTables).toHaveLength(2)
    expect(db.pragma('quick_check(1)', { simple: true })).not.toBe('ok')
    db.close()
    const err = await buildBlock(opts(bad, join(dir, 'bad-out.db'))).then(() => undefined, (e: unknown) => e)
    expect(isPetalError(err) ? err.code : err).toBe('CORRUPT')
  })
})
