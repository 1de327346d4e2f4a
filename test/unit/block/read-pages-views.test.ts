// Plain verify's page reader reads the pages of a small block from the bytes the worker has just
// hashed as views of them (PageFile.page), not copies: the result must be the one the copying
// reads give, and a page reached twice must still be refused.
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { copyFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildBlock, readBlockFile, readBlockPages } from '../../../src/block/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

async function block (dir: string, name: string, description: string): Promise<string> {
  const src = join(dir, `${name}-src.db`)
  const db = new Database(src)
  db.pragma('page_size = 1024')
  db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)')
  db.close()
  const built = await buildBlock({
    source: src, output: join(dir, `${name}.db`), key: fixtureKey('alice'), chainId: 'aa'.repeat(32), height: 1, previousHash: 'bb'.repeat(32),
    timestamp: '2026-03-01T10:00:00.000Z', maxBytes: 1 << 26, description
  })
  return built.path
}

describe('the page reader on bytes held whole', () => {
  it('reads what it reads from the file, overflow pages included', async () => {
    const dir = tmpDir()
    // A 3,000-character description: _meta's row continues on overflow pages of a 1 KiB page.
    for (const p of [await block(dir, 'short', 'a block'), await block(dir, 'long', 'd'.repeat(3000))]) {
      const held = readBlockPages(p, 1 << 26, readFileSync(p))
      expect(held).toBeDefined()
      expect(held).toEqual(readBlockPages(p, 1 << 26))
      expect(held).toEqual({ ...await readBlockFile(p, { maxBytes: 1 << 26, quickCheck: false, checkManifest: false }), userTables: [] })
    }
  })

  it('still refuses a b-tree that reaches a page already read', async () => {
    const dir = tmpDir()
    const p = join(dir, 'twice.db')
    // A block without user tables, whose _tables's root is made _keys's (both empty leaves): read
    // once each, the pages would give a block as it was; reached twice, the page is refused.
    const built = await buildBlock({
      output: join(dir, 'empty.db'), key: fixtureKey('alice'), chainId: 'aa'.repeat(32), height: 1, previousHash: 'bb'.repeat(32),
      timestamp: '2026-03-01T10:00:00.000Z', maxBytes: 1 << 26
    })
    expect(readBlockPages(built.path, 1 << 26, readFileSync(built.path))).toBeDefined()
    copyFileSync(built.path, p)
    const db = new Database(p)
    db.unsafeMode(true)
    db.pragma('writable_schema = ON')
    db.prepare("UPDATE sqlite_schema SET rootpage = (SELECT rootpage FROM sqlite_schema WHERE name = '_keys') WHERE name = '_tables'").run()
    db.close()
    expect(readBlockPages(p, 1 << 26, readFileSync(p))).toBeUndefined()
    expect(readBlockPages(p, 1 << 26)).toBeUndefined()
  })
})
