// readBlockPages (plain verify's reader of the reserved tables from the pages) against the SQLite
// read: UTF-8 and UTF-16 blocks with key operations, every fixture, and each way verify holds bytes.
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildBlock, readBlockFile, readBlockPages, signKeyOp, type BlockFile, type HeldBytes } from '../../../src/block/index.js'
import { isPetalError } from '../../../src/util/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { makeDb, TABLES } from '../../helpers/random-tables.js'
import { tmpDir } from '../../helpers/tmp.js'

/**
 * readBlockPages of `path` as plain verify reads a large block: from the parts of its bytes the
 * hashing pass kept (the first `head` and last `tail` bytes; some layouts leave pages, or a page's
 * bytes, in neither) and the open descriptor for the rest. Every layout must answer alike.
 */
function readHeld (path: string): Array<BlockFile | undefined | string> {
  const bytes = readFileSync(path)
  const size = bytes.length
  const fd = openSync(path, 'r')
  try {
    return [[100, 0], [700, 3000], [size, 0], [4096, size - 4096], [0, 2048]].map(([head = 0, tail = 0]) => {
      const parts = [{ at: 0, bytes: bytes.subarray(0, head) }, { at: size - tail, bytes: bytes.subarray(size - tail) }].filter(p => p.bytes.length > 0)
      const held: HeldBytes = { fd, size, parts }
      try { return readBlockPages(path, 1 << 26, held) } catch (err) { return isPetalError(err) ? err.code : String(err) }
    })
  } finally {
    closeSync(fd)
  }
}

describe('reading the reserved tables from the pages (plain verify)', () => {
  it('reads blocks built from UTF-8 and UTF-16 sources, with key operations and several tables, as SQLite does', async () => {
    const dir = tmpDir()
    const alice = fixtureKey('alice')
    const ops = ['bob', 'carol', 'dave'] as const
    for (const encoding of ['UTF-8', 'UTF-16le', 'UTF-16be']) {
      const src = join(dir, `src-${encoding}.db`)
      makeDb(src, 1024, encoding, 7, 20)
      const built = await buildBlock({
        source: src, output: join(dir, `block-${encoding}.db`), key: alice, chainId: 'aa'.repeat(32), height: 3, previousHash: 'bb'.repeat(32),
        timestamp: '2026-03-01T10:00:00.000Z', maxBytes: 1 << 26, description: 'é — ünïcode 😀', keyOps: ops.map(n => signKeyOp(alice, 'aa'.repeat(32), 'A', fixtureKey(n).publicKey))
      })
      const full = await readBlockFile(built.path, { maxBytes: 1 << 26, quickCheck: false, checkManifest: false })
      const pages = readBlockPages(built.path, 1 << 26)
      expect(pages, encoding).toBeDefined()
      expect({ ...pages, userTables: [] }).toEqual({ ...full, userTables: [] })
      expect(pages?.keyOps).toHaveLength(3)
      expect(pages?.tables.length).toBe(TABLES.length)
      // The same bytes given whole (a small block verify has read once).
      expect(readBlockPages(built.path, 1 << 26, readFileSync(built.path))).toEqual(pages)
      // Its first and last chunks held and the rest read through the open file (a large block).
      for (const r of readHeld(built.path)) expect(r).toEqual(pages)
    }
  })

  it('gives what the SQLite read gives for every fixture, or leaves the block to it', async () => {
    const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'blocks')
    let same = 0
    for (const f of readdirSync(fixtures).filter(n => n.endsWith('.db'))) {
      const path = join(fixtures, f)
      const head = readFileSync(path).subarray(0, 20)
      if (head.length < 20 || head[18] !== 1 || head[19] !== 1) continue
      let full: BlockFile | string
      try { full = await readBlockFile(path, { maxBytes: 1 << 26, quickCheck: false, checkManifest: false }) } catch (err) { full = isPetalError(err) ? err.code : String(err) }
      let pages: BlockFile | undefined | string
      try { pages = readBlockPages(path, 1 << 26) } catch (err) { pages = isPetalError(err) ? err.code : String(err) }
      // From the bytes plain verify read whole (no second open for the header): the same answer.
      let fromBytes: BlockFile | undefined | string
      try { fromBytes = readBlockPages(path, 1 << 26, readFileSync(path)) } catch (err) { fromBytes = isPetalError(err) ? err.code : String(err) }
      expect({ f, fromBytes }).toEqual({ f, fromBytes: pages })
      for (const held of readHeld(path)) expect({ f, held }).toEqual({ f, held: pages })
      if (pages === undefined) continue
      if (typeof full === 'string') {
        // Never accepts what the full read refuses; the same coded error when it refuses too.
        expect({ f, pages }).toEqual({ f, pages: full })
        continue
      }
      expect(typeof pages, f).toBe('object')
      if (typeof pages === 'string') continue
      expect({ ...pages, userTables: [] }).toEqual({ ...full, userTables: [] })
      same++
    }
    expect(same).toBeGreaterThan(5)
  })
})
