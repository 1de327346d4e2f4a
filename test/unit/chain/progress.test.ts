import { cpSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { beforeAll, describe, expect, it } from 'vitest'
import { Chain, importBlock, IMPORT_PASSES, SIGN_IMPORT_PASSES, signImport, verifyChain } from '../../../src/chain/index.js'
import type { SigningKey } from '../../../src/crypto/index.js'
import { receiveProgress } from '../../../src/node/pull.js'
import type { WorkProgress } from '../../../src/util/index.js'
import { newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

// Progress that tells the truth: long operations count bytes of work in every pass that takes
// time, from a total known at the start, and move while one large file is being worked on
// (before, signimportblock reported nothing at all, and verify counted whole blocks).

const ROWS = 120_000 // about 14 MiB: several 1 MiB hash chunks, and rows hashed in many batches

function bigSource (path: string): string {
  const db = new Database(path)
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, b BLOB)')
  const ins = db.prepare('INSERT INTO t (k, b) VALUES (?, ?)')
  db.transaction(() => { for (let i = 0; i < ROWS; i++) ins.run(`key ${i}`, Buffer.alloc(100, i & 255)) })()
  db.close()
  return path
}

/** Reports grouped by phase, in order of first appearance. */
function phases (seen: WorkProgress[]): Map<string, number[]> {
  const m = new Map<string, number[]>()
  for (const p of seen) m.set(p.phase, [...(m.get(p.phase) ?? []), p.done])
  return m
}

function checkMonotonic (seen: WorkProgress[]): void {
  for (let i = 1; i < seen.length; i++) expect((seen[i] as WorkProgress).done).toBeGreaterThanOrEqual((seen[i - 1] as WorkProgress).done)
  const last = seen.at(-1) as WorkProgress
  expect(last.done).toBe(last.total)
}

describe('progress in bytes', () => {
  let chain: Chain
  let key: SigningKey
  let src: string
  let size: number
  /** A copy of the chain at genesis, to import the large block into. */
  let copy: string

  beforeAll(async () => {
    const t = await newTestChain({ consensus: { maxBlockBytes: 256 * 1024 * 1024 } })
    t.chain.close()
    copy = join(tmpDir(), 'copy')
    cpSync(t.dir, copy, { recursive: true })
    chain = Chain.open(t.dir)
    key = t.key
    src = bigSource(join(tmpDir(), 'big.db'))
    size = statSync(src).size
  }, 60_000)

  it('signimportblock: every pass (copy, quick_check, rows, SHA-256, storing) moves, from a total known at once', async () => {
    const seen: WorkProgress[] = []
    await signImport(chain, src, key, { onProgress: p => { seen.push(p) } })
    expect(seen[0]?.total).toBe(size * SIGN_IMPORT_PASSES)
    expect([...phases(seen).keys()]).toEqual(['copying', 'checking', 'hashing rows', 'hashing', 'storing'])
    // Within one pass over a large file, progress moves in steps, not once at the end.
    const ph = phases(seen)
    expect(new Set(ph.get('hashing rows')).size).toBeGreaterThan(10)
    expect(new Set(ph.get('hashing')).size).toBeGreaterThan(10)
    // Each pass once: the validation after the build neither re-hashes the file nor re-runs
    // quick_check nor re-hashes the rows (the build did all three on this very file).
    expect(seen.map(p => p.phase).filter((x, i, a) => x !== a[i - 1])).toEqual(['copying', 'checking', 'hashing rows', 'hashing', 'storing'])
    checkMonotonic(seen)
    const block = chain.tip()
    expect(seen.at(-1)?.done).toBeGreaterThanOrEqual(size * SIGN_IMPORT_PASSES)
    expect(seen.at(-1)?.done).toBeLessThan(block.size * SIGN_IMPORT_PASSES + 1)
  }, 120_000)

  it('import: copying, hashing, checking, rows and storing a block file', async () => {
    const other = Chain.open(copy)
    const b = chain.tip()
    const seen: WorkProgress[] = []
    const r = await importBlock(other, chain.pathOf(b), b.seal, { onProgress: p => { seen.push(p) } })
    expect(r.status).toBe('extended')
    expect(seen[0]?.total).toBe(b.size * IMPORT_PASSES)
    expect([...phases(seen).keys()]).toEqual(['copying', 'hashing', 'checking', 'hashing rows', 'storing'])
    expect(new Set(phases(seen).get('hashing rows')).size).toBeGreaterThan(5)
    checkMonotonic(seen)
    other.close()
  }, 120_000)

  for (const deep of [false, true]) {
    it(`verify${deep ? ' --deep' : ''}: bytes of the whole chain, the total known from the first report`, async () => {
      const seen: Array<WorkProgress & { blocks: number }> = []
      const r = await verifyChain(chain, { deep, onProgress: p => { seen.push(p) } })
      expect(r.ok).toBe(true)
      const all = chain.index.range(0, chain.tip().height).reduce((n, b) => n + b.size, 0)
      expect(seen[0]?.total).toBe(all)
      checkMonotonic(seen)
      expect(seen.at(-1)).toMatchObject({ done: all, total: all, blocks: chain.tip().height + 1 })
    }, 120_000)
  }
})

describe('pull: bytes of work expected', () => {
  it('is exact when every header is known, and estimated from their average size beyond; each block is received then imported', () => {
    const s = { height: 4, received: 4500, checked: 4 * 4000, phase: 'hashing rows', queued: { blocks: 10, bytes: 10_000, height: 10 } }
    // 10 headers known (1000 bytes each) up to height 10; each block: received + IMPORT_PASSES − 1 passes.
    expect(receiveProgress(s, 10)).toEqual({ phase: 'hashing rows', done: 4500 + 16_000, total: 10_000 * IMPORT_PASSES })
    // The best tip is at 20: 10 more blocks of the average size.
    expect(receiveProgress(s, 20)).toEqual({ phase: 'hashing rows', done: 4500 + 16_000, total: 20_000 * IMPORT_PASSES })
    // Nothing known yet: no estimate beyond what was done.
    expect(receiveProgress({ height: 0, received: 0, checked: 0, phase: 'receiving', queued: { blocks: 0, bytes: 0 } }, 20)).toEqual({ phase: 'receiving', done: 0, total: 0 })
  })
})
