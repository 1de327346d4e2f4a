// Plain verify reads an ordinary small block with a lean reader (read-lean.ts) and everything else
// with the general page reader. The lean one must never decide: for any bytes it gives exactly
// what readBlockPages gives, or undefined (then readBlockPages reads the block), and it throws
// only what readBlockPages throws.
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildBlock, GENESIS_PREVIOUS_HASH, readBlockFile, readBlockLean, readBlockPages, signKeyOp, type BlockFile } from '../../../src/block/index.js'
import { isPetalError } from '../../../src/util/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const MAX = 1 << 26
type Answer = BlockFile | undefined | string

function answer (read: () => BlockFile | undefined): Answer {
  try { return read() } catch (err) { return isPetalError(err) ? err.code : `uncoded: ${String(err)}` }
}

/** Both readers' answers on `bytes`, the page reader's schema cache first primed with `prime` (as the block before it in a chain). */
function both (path: string, bytes: Buffer, prime: Buffer): { lean: Answer, general: Answer } {
  answer(() => readBlockPages(path, MAX, prime))
  const lean = answer(() => readBlockLean(path, MAX, bytes))
  answer(() => readBlockPages(path, MAX, prime))
  return { lean, general: answer(() => readBlockPages(path, MAX, bytes)) }
}

/** The lean answer is the general one, or undefined when the general one is a block or undefined. */
function agrees ({ lean, general }: { lean: Answer, general: Answer }): boolean {
  if (lean === undefined) return typeof general !== 'string'
  expect(lean).toStrictEqual(general)
  return true
}

async function block (dir: string, name: string, o: { height?: number, tables?: string, description?: string, creator?: string, keyOps?: boolean, pageSize?: number } = {}): Promise<string> {
  let source: string | undefined
  if (o.tables !== undefined) {
    source = join(dir, `${name}-src.db`)
    const db = new Database(source)
    db.pragma(`page_size = ${o.pageSize ?? 4096}`)
    db.exec(o.tables)
    db.close()
  }
  const alice = fixtureKey('alice')
  const built = await buildBlock({
    source, output: join(dir, `${name}.db`), key: alice, chainId: o.height === 0 ? '' : 'aa'.repeat(32), height: o.height ?? 7,
    previousHash: o.height === 0 ? GENESIS_PREVIOUS_HASH : 'bb'.repeat(32), genesis: o.height === 0 ? { quorumRule: 'daisy-capped', maxBlockBytes: MAX, maxReorgDepth: 100 } : undefined,
    timestamp: '2026-03-01T10:00:00.000Z', maxBytes: MAX, description: o.description, creatorName: o.creator, pageSize: o.pageSize,
    keyOps: o.keyOps === true ? [signKeyOp(alice, 'aa'.repeat(32), 'A', fixtureKey('bob').publicKey)] : undefined
  })
  return built.path
}

/** The root pages of the reserved tables (and page 1), as SQLite names them. */
function reservedPages (path: string): number[] {
  const db = new Database(path, { readonly: true })
  try {
    return [1, ...db.prepare<[], number>("SELECT rootpage FROM sqlite_schema WHERE name IN ('_meta', '_keys', '_tables')").pluck().all()]
  } finally {
    db.close()
  }
}

describe('the lean reader of ordinary small blocks (plain verify)', () => {
  it('reads an empty block, one with Creator and Description, one with user tables, as the SQLite read does', async () => {
    const dir = tmpDir()
    const paths = [
      await block(dir, 'empty'),
      await block(dir, 'described', { creator: 'Ålice', description: 'é — ünïcode 😀' }),
      await block(dir, 'tables', { tables: 'CREATE TABLE t (x); INSERT INTO t VALUES (1), (2); CREATE TABLE "B c" (y TEXT); CREATE TABLE a (z)' }),
      await block(dir, 'small-pages', { tables: 'CREATE TABLE t (x); INSERT INTO t VALUES (1)', pageSize: 1024 })
    ]
    for (const p of paths) {
      const bytes = readFileSync(p)
      const r = both(p, bytes, bytes)
      expect(r.lean, p).toBeDefined()
      expect(r.lean).toStrictEqual(r.general)
      expect(r.lean).toEqual({ ...await readBlockFile(p, { maxBytes: MAX, quickCheck: false, checkManifest: false }), userTables: [] })
    }
  })

  it('stands aside for a page 1 the general reader has not parsed, the genesis, key operations and overflowing rows', async () => {
    const dir = tmpDir()
    const empty = readFileSync(await block(dir, 'empty'))
    const cases = [
      await block(dir, 'genesis', { height: 0 }),
      await block(dir, 'keyops', { keyOps: true }),
      await block(dir, 'long', { description: 'd'.repeat(4000) }),
      await block(dir, 'utf16', { tables: "PRAGMA encoding = 'UTF-16le'; CREATE TABLE t (x)" }),
      // 512-byte pages: _meta's rows take more than a page (an interior page and two leaves).
      await block(dir, 'interior', { tables: 'CREATE TABLE t (x)', pageSize: 512 })
    ]
    for (const p of cases) {
      const bytes = readFileSync(p)
      // Primed with its own page 1 or with another block's: either way the general reader decides.
      for (const prime of [bytes, empty]) {
        const r = both(p, bytes, prime)
        expect(r.lean, p).toBeUndefined()
        expect(r.general, p).toBeTypeOf('object')
      }
    }
    // A block whose page 1 is not the one the general reader parsed last: left to it.
    const tables = readFileSync(await block(dir, 'tables', { tables: 'CREATE TABLE t (x)' }))
    expect(both(join(dir, 'tables.db'), tables, empty).lean).toBeUndefined()
  })

  it('gives what the general reader gives, or stands aside, for every fixture', () => {
    // The fixtures have 512-byte pages, on which _meta takes an interior page and two leaves: the
    // lean reader stands aside for them (the next test changes bytes of blocks it does read).
    const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'blocks')
    for (const f of readdirSync(fixtures).filter(n => n.endsWith('.db'))) {
      const bytes = readFileSync(join(fixtures, f))
      const r = both(join(fixtures, f), bytes, bytes)
      expect(agrees(r), f).toBe(true)
      if (typeof r.general === 'string') expect(r.lean, f).toBe(r.general)
    }
  })

  it('gives what the general reader gives, or stands aside, for every byte of the reserved tables\' pages changed', async () => {
    const dir = tmpDir()
    const kinds = [{}, { creator: 'Ålice', description: 'a block' }, { tables: 'CREATE TABLE t (x); INSERT INTO t VALUES (1); CREATE TABLE u (y)', pageSize: 1024 }]
    for (const [i, o] of kinds.entries()) {
      const p = await block(dir, `b${i}`, o)
      const bytes = readFileSync(p)
      const size = bytes.readUInt16BE(16)
      let lean = 0
      let changed = 0
      for (const n of reservedPages(p).slice(1)) {
        for (let at = (n - 1) * size; at < n * size; at++) {
          const was = bytes[at] ?? 0
          for (const v of [was ^ 0x01, was ^ 0x80, 0x00, 0xff, 0x30]) {
            if (v === was) continue
            const m = Buffer.from(bytes)
            m[at] = v
            const r = both(p, m, bytes)
            expect(agrees(r), `byte ${at} = ${v}`).toBe(true)
            if (r.lean !== undefined) lean++
            if (r.lean !== undefined && JSON.stringify(r.lean) !== JSON.stringify(answer(() => readBlockLean(p, MAX, bytes)))) changed++
          }
        }
      }
      // Most changes land in free space (the same block) or are refused; some change a value it reads (a text's letter).
      expect(lean).toBeGreaterThan(1000)
      expect(changed).toBeGreaterThan(10)
    }
  })

  it('throws what the general reader throws for a file that is not a block', async () => {
    const dir = tmpDir()
    const bytes = readFileSync(await block(dir, 'empty'))
    const truncated = bytes.subarray(0, bytes.length - 100)
    const wal = Buffer.from(bytes)
    wal[18] = 2
    wal[19] = 2
    const notSqlite = Buffer.from(bytes)
    notSqlite[0] = 0x51
    for (const [m, code] of [[truncated, 'CORRUPT'], [wal, 'WAL_MODE'], [notSqlite, 'NOT_SQLITE']] as const) {
      const r = both(join(dir, 'empty.db'), m, bytes)
      expect(r).toEqual({ lean: code, general: code })
    }
    expect(answer(() => readBlockLean(join(dir, 'empty.db'), bytes.length - 1, bytes))).toBe('BLOCK_TOO_LARGE')
  })
})
