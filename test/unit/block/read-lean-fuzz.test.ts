// The lean reader (read-lean.ts) against the general page reader on blocks with several bytes of
// their reserved tables' pages changed at once (read-lean.test.ts changes one byte at a time):
// for every change it gives what readBlockPages gives, or stands aside. Seeded: the same changes
// in every run. 90,000 changes were run once while reviewing it (session 15), with no difference.
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { buildBlock, readBlockLean, readBlockPages, type BlockFile } from '../../../src/block/index.js'
import { isPetalError } from '../../../src/util/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const MAX = 1 << 26
const CHANGES_PER_BLOCK = 4000
type Answer = BlockFile | undefined | string

function answer (read: () => BlockFile | undefined): Answer {
  try { return read() } catch (err) { return isPetalError(err) ? err.code : `uncoded: ${String(err)}` }
}

function reservedPages (path: string): number[] {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare<[], number>("SELECT rootpage FROM sqlite_schema WHERE name IN ('_meta', '_keys', '_tables')").pluck().all()
  } finally {
    db.close()
  }
}

async function block (dir: string, name: string, o: { creatorName?: string, description?: string, tables?: string }): Promise<string> {
  let source: string | undefined
  if (o.tables !== undefined) {
    source = join(dir, `${name}-src.db`)
    const db = new Database(source)
    db.pragma('page_size = 1024')
    db.exec(o.tables)
    db.close()
  }
  const built = await buildBlock({
    source, output: join(dir, `${name}.db`), key: fixtureKey('alice'), chainId: 'aa'.repeat(32), height: 7, previousHash: 'bb'.repeat(32),
    timestamp: '2026-03-01T10:00:00.000Z', maxBytes: MAX, description: o.description, creatorName: o.creatorName, pageSize: source === undefined ? undefined : 1024
  })
  return built.path
}

describe('the lean reader with several bytes of the reserved tables\' pages changed at once', () => {
  it('gives what the general reader gives, or stands aside', async () => {
    const dir = tmpDir()
    let seed = 12345
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n }
    const kinds = [{}, { creatorName: 'Ålice', description: 'a block' }, { tables: 'CREATE TABLE t (x); INSERT INTO t VALUES (1); CREATE TABLE u (y); CREATE TABLE "v w" (z)' }]
    for (const [i, o] of kinds.entries()) {
      const path = await block(dir, `b${i}`, o)
      const bytes = readFileSync(path)
      const size = bytes.readUInt16BE(16)
      const pages = reservedPages(path)
      let answered = 0
      for (let k = 0; k < CHANGES_PER_BLOCK; k++) {
        const m = Buffer.from(bytes)
        // One to four bytes, a third of them in the page header and the first cell pointers; a bit flipped or a byte replaced.
        for (let c = 1 + rnd(4); c > 0; c--) {
          const at = ((pages[rnd(pages.length)] as number) - 1) * size + (rnd(3) === 0 ? rnd(16) : rnd(size))
          m[at] = rnd(4) === 0 ? (m[at] ?? 0) ^ (1 << rnd(8)) : rnd(256)
        }
        // Both readers after a block whose page 1 is this one's (the general reader's schema cache primed).
        answer(() => readBlockPages(path, MAX, bytes))
        const lean = answer(() => readBlockLean(path, MAX, m))
        answer(() => readBlockPages(path, MAX, bytes))
        const general = answer(() => readBlockPages(path, MAX, m))
        if (lean === undefined) {
          expect(typeof general, `block ${i}, change ${k}`).not.toBe('string')
          continue
        }
        answered++
        expect(lean, `block ${i}, change ${k}`).toStrictEqual(general)
      }
      // Not vacuous: most changes land in free space or in a text's letters, which it reads.
      expect(answered).toBeGreaterThan(CHANGES_PER_BLOCK / 10)
    }
  }, 60_000)
})
