import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { copyFileSync, cpSync, openSync, readSync, rmSync, statSync, truncateSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, signImport, verifyChain } from '../../../src/chain/index.js'
import { BatchPlan, replayChain } from '../../../src/chain/replay.js'
import { newTestChain } from '../../helpers/chain.js'
import { generateSigningKey } from '../../../src/crypto/index.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('replay (verify, reindex)', () => {
  it('has every block signed by a genesis signer checked ahead by the workers, the first ones included', async () => {
    // 20 blocks span the genesis batch and two batches of 16: the genesis is read alone first, so
    // the batches after it carry its signers and none is left to the in-order thread.
    const t = await newTestChain()
    try {
      for (let i = 0; i < 20; i++) await signImport(t.chain, undefined, t.key)
      const ahead: number[] = []
      const r = await replayChain(t.chain, {
        toHeight: 20,
        workers: 2,
        onBlock: c => { if (c.verified?.key === t.key.publicKey.hex && c.verified.prev && c.verified.seal) ahead.push(c.file.header.height) }
      })
      expect(r.blocks).toBe(21)
      expect(ahead).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    } finally {
      t.chain.close()
    }
  })

  it('with key hints, sends the first window with the genesis; a wrong hint costs a second check, never a verdict', async () => {
    const t = await newTestChain()
    try {
      for (let i = 0; i < 20; i++) await signImport(t.chain, undefined, t.key)
      const run = async (hint: string): Promise<{ blocks: number, ahead: number[] }> => {
        const ahead: number[] = []
        const r = await replayChain(t.chain, {
          toHeight: 20,
          workers: 2,
          keyHints: { [t.key.publicKey.id]: hint },
          onBlock: c => { if (c.verified?.key === t.key.publicKey.hex && c.verified.prev && c.verified.seal) ahead.push(c.file.header.height) }
        })
        return { blocks: r.blocks, ahead }
      }
      expect(await run(t.key.publicKey.hex)).toEqual({ blocks: 21, ahead: Array.from({ length: 21 }, (_, i) => i) })
      // Another key under the creator's id: the first window's verdicts (made with it) are set
      // aside and the signatures checked again with the genesis's key; every block still passes.
      const wrong = await run(generateSigningKey().publicKey.hex)
      expect(wrong.blocks).toBe(21)
      expect(wrong.ahead.length).toBeLessThan(20)
    } finally {
      t.chain.close()
    }
  })

  it('asks a total given as a function once, after the first batches are out, and reports it', async () => {
    // verify's total is a sum over the index (~15 ms cold on 10,000 blocks): asked before the
    // replay, it kept the workers waiting for their first batch.
    const t = await newTestChain()
    try {
      for (let i = 0; i < 20; i++) await signImport(t.chain, undefined, t.key)
      const sizes = Array.from({ length: 21 }, (_, h) => statSync(t.chain.dir.blockPath(h)).size)
      const sum = sizes.reduce((a, b) => a + b, 0)
      const events: string[] = []
      const totals = new Set<number>()
      const r = await replayChain(t.chain, {
        toHeight: 20,
        workers: 2,
        keyHints: { [t.key.publicKey.id]: t.key.publicKey.hex },
        // of() is asked as batches are planned, right before each goes to a worker.
        sizes: { total: () => { events.push('total'); return sum }, of: h => { events.push(`size ${h}`); return sizes[h] ?? 0 } },
        onBlock: c => { events.push(`block ${c.file.header.height}`) },
        onProgress: p => { totals.add(p.total) }
      })
      expect(r.blocks).toBe(21)
      expect(events.filter(e => e === 'total')).toHaveLength(1)
      // The first window (the genesis and the batches after it) was planned and sent before.
      expect(events.indexOf('total')).toBeGreaterThan(events.indexOf('size 20'))
      expect([...totals]).toEqual([sum])
      // And verify's own total (the index's sum) is what the files hold.
      const seen: number[] = []
      expect((await verifyChain(t.chain, { workers: 2, onProgress: p => { seen.push(p.total) } })).ok).toBe(true)
      expect(new Set(seen)).toEqual(new Set([sum]))
    } finally {
      t.chain.close()
    }
  })

  it('never asks a total that no progress report has its total read', async () => {
    // The CLI shows nothing for a run that ends within a second: verify's sum over the index (a
    // seek per block) is then not made at all. A report read later still gives the total.
    const t = await newTestChain()
    try {
      for (let i = 0; i < 20; i++) await signImport(t.chain, undefined, t.key)
      let asked = 0
      const reports: Array<{ total: number, done: number }> = []
      const r = await replayChain(t.chain, {
        toHeight: 20,
        workers: 2,
        sizes: { total: () => { asked++; return 1e12 }, of: () => 1 },
        onProgress: p => { reports.push(p) }
      })
      expect(r.blocks).toBe(21)
      expect(reports.length).toBeGreaterThan(1)
      expect(asked).toBe(0)
      const last = reports[reports.length - 1]
      expect(last?.total).toBe(1e12)
      expect(reports[0]?.total).toBe(1e12)
      expect(asked).toBe(1)
    } finally {
      t.chain.close()
    }
  })

  it('takes blocks in order across batch boundaries; a missing or damaged file at a batch\'s first or last height fails there, and a replay to the first missing file stops before it', async () => {
    // 40 blocks: batches [0], [1..16], [17..32], [33..40]. The workers get each batch as a height
    // range and the in-order thread takes a batch's blocks without an await each.
    const t = await newTestChain()
    for (let i = 0; i < 40; i++) await signImport(t.chain, undefined, t.key)
    t.chain.close()
    const file = (dir: string, h: number, ext = 'db'): string => join(dir, '0000', `block_${h.toString(16).padStart(8, '0')}.${ext}`)
    const copy = (damage: (dir: string) => void): string => {
      const dir = join(tmpDir(), 'copy')
      cpSync(t.dir, dir, { recursive: true })
      damage(dir)
      return dir
    }
    const verify = async (dir: string): Promise<{ failure: unknown, heights: number[] }> => {
      const chain = Chain.open(dir)
      try {
        const heights: number[] = []
        const r = await replayChain(chain, { toHeight: 40, workers: 2, onBlock: c => { heights.push(c.file.header.height) } }).then(() => undefined, (err: unknown) => err)
        const v = await verifyChain(chain, { workers: 2 })
        expect(v.ok).toBe(r === undefined)
        return { failure: v.failure, heights }
      } finally {
        chain.close()
      }
    }
    const whole = await verify(t.dir)
    expect(whole.failure).toBeUndefined()
    expect(whole.heights).toEqual(Array.from({ length: 41 }, (_, h) => h))
    const upTo = (n: number): number[] => Array.from({ length: n }, (_, h) => h)
    // A batch's first height: its file missing, or another block's file in its place.
    expect(await verify(copy(dir => { rmSync(file(dir, 17)) }))).toMatchObject({ failure: { height: 17, code: 'BLOCK_FILE_MISSING' }, heights: upTo(17) })
    expect(await verify(copy(dir => { copyFileSync(file(dir, 16), file(dir, 17)) }))).toMatchObject({ failure: { height: 17, code: 'PARENT_UNKNOWN' }, heights: upTo(17) })
    // A batch's last height and the chain's last.
    expect(await verify(copy(dir => { rmSync(file(dir, 32, 'sig')) }))).toMatchObject({ failure: { height: 32, code: 'BLOCK_FILE_MISSING' }, heights: upTo(32) })
    expect(await verify(copy(dir => { copyFileSync(file(dir, 15, 'sig'), file(dir, 16, 'sig')) }))).toMatchObject({ failure: { height: 16, code: 'BAD_SEAL' }, heights: upTo(16) })
    expect(await verify(copy(dir => { truncateSync(file(dir, 40), 1000) }))).toMatchObject({ failure: { height: 40, code: 'CORRUPT' }, heights: upTo(40) })
    // Without toHeight (reindex), the replay ends at the first missing file: the first of a batch.
    const gap = Chain.open(copy(dir => { rmSync(file(dir, 33)) }))
    try {
      const seen: number[] = []
      const r = await replayChain(gap, { workers: 2, onBlock: c => { seen.push(c.file.header.height) } })
      expect(r.blocks).toBe(33)
      expect(seen).toEqual(upTo(33))
    } finally {
      gap.close()
    }
  })

  it('hashes a large block in one pass whose kept first and last chunks serve its pages, and catches a change between them', async () => {
    // ~2.3 MiB: plain verify reads the first MiB, a shorter middle chunk, then a last whole MiB
    // ending at the end of the file; the pages come from the first and last, the hash from all.
    const t = await newTestChain()
    try {
      const src = join(tmpDir(), 'big.db')
      const db = new Database(src)
      db.exec('CREATE TABLE b (id INTEGER PRIMARY KEY, v BLOB)')
      const ins = db.prepare('INSERT INTO b (v) VALUES (randomblob(1000))')
      db.transaction(() => { for (let i = 0; i < 2300; i++) ins.run() })()
      db.close()
      await signImport(t.chain, src, t.key)
      const path = t.chain.dir.blockPath(1)
      const size = statSync(path).size
      expect(size).toBeGreaterThan(2 << 20)
      expect(size % (1 << 20)).not.toBe(0)
      expect((await verifyChain(t.chain, { workers: 2 })).ok).toBe(true)
      // One byte of the middle chunk (in neither kept part): the hash, hence the seal, fails.
      const fd = openSync(path, 'r+')
      const b = Buffer.alloc(1)
      const at = (1 << 20) + 1000
      readSync(fd, b, 0, 1, at)
      writeSync(fd, Buffer.of((b[0] ?? 0) ^ 0xff), 0, 1, at)
      closeSync(fd)
      const r = await verifyChain(t.chain, { workers: 2 })
      expect(r.failure).toMatchObject({ height: 1, code: 'BAD_SEAL' })
    } finally {
      t.chain.close()
    }
  })

  it('--deep: large tables hashed in the workers with the modules the replay sends them; a changed row is MANIFEST_MISMATCH', async () => {
    // Blocks over 1 MiB with tables of 30,000 rows: the manifest hashes them in WebAssembly, with
    // modules the replay generated once and sent along (replay.ts, WASM_BLOCK_BYTES).
    const t = await newTestChain()
    try {
      for (let k = 0; k < 3; k++) {
        const src = join(tmpDir(), `deep${k}.db`)
        const db = new Database(src)
        db.exec('CREATE TABLE r (id INTEGER PRIMARY KEY, s TEXT, n INTEGER, x REAL)')
        const ins = db.prepare('INSERT INTO r (s, n, x) VALUES (?, ?, ?)')
        db.transaction(() => { for (let i = 0; i < 30_000; i++) ins.run(`row ${i} of block ${k}`, i * 13, i / 7) })()
        // The last blocks' tables are hashed in parts the other worker may share: rows spread over
        // overflow pages, and a WITHOUT ROWID table (hashed whole).
        db.exec('CREATE TABLE o (id INTEGER PRIMARY KEY, b BLOB); CREATE TABLE w (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID')
        db.exec(`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 9000) INSERT INTO o (b) SELECT CASE WHEN i % 400 = 0 THEN zeroblob(6000 + i) ELSE randomblob(20) END FROM c`)
        db.exec(`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000) INSERT INTO w SELECT 'key ' || i, CASE WHEN i % 300 = 0 THEN zeroblob(7000) ELSE randomblob(8) END FROM c`)
        db.close()
        await signImport(t.chain, src, t.key)
      }
      expect(statSync(t.chain.dir.blockPath(2)).size).toBeGreaterThan(1 << 20)
      expect(await verifyChain(t.chain, { workers: 2, deep: true })).toMatchObject({ ok: true, blocks: 4 })
      // A change in an overflow page of the last block (then put back).
      const path3 = t.chain.dir.blockPath(3)
      const kept = join(tmpDir(), 'kept.db')
      copyFileSync(path3, kept)
      const last = new Database(path3)
      last.exec('UPDATE o SET b = zeroblob(6001) WHERE id = 800')
      last.close()
      const r = await replayChain(t.chain, { workers: 2, deep: true, toHeight: 3 }).catch((err: unknown) => err)
      expect(r).toMatchObject({ code: 'MANIFEST_MISMATCH', details: { table: 'o', height: 3 } })
      copyFileSync(kept, path3)
      expect((await verifyChain(t.chain, { workers: 2, deep: true })).ok).toBe(true)
      const db = new Database(t.chain.dir.blockPath(2))
      db.exec('UPDATE r SET n = n + 1 WHERE id = 12345')
      db.close()
      expect((await verifyChain(t.chain, { workers: 2, deep: true })).failure).toMatchObject({ height: 2, code: 'MANIFEST_MISMATCH' })
      expect((await verifyChain(t.chain, { workers: 2 })).failure).toMatchObject({ height: 2, code: 'BAD_SEAL' })
    } finally {
      t.chain.close()
    }
  }, 60_000)

  it('sends large blocks to the workers one per batch, small ones 16 at a time, the genesis alone', () => {
    // Heights 1–4 are 4 MiB (one per batch: 16 in one message kept one thread hashing 64 MiB while
    // the other had nothing left), 5–44 are 7 KiB, 45 is the last.
    const MiB = 1 << 20
    const sizes = [6000, ...Array<number>(4).fill(4 * MiB), ...Array<number>(41).fill(7000)]
    const asked: number[] = []
    const plan = new BatchPlan(16, MiB, h => h < sizes.length, h => { asked.push(h); return sizes[h] ?? 0 })
    const batches: number[][] = []
    for (let b = 0; plan.first(b) < sizes.length; b++) batches.push([plan.first(b), Math.min(plan.first(b + 1), sizes.length) - 1])
    expect(batches).toEqual([[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 20], [21, 36], [37, 45]])
    expect(asked).toEqual([...asked].sort((a, b) => a - b))
    // Each batch's bytes and largest file, as the replay sends them (ALONE_BYTES, --deep's modules).
    const sum = ([from, to]: number[]): number => sizes.slice(from, (to ?? 0) + 1).reduce((a, n) => a + n, 0)
    const top = ([from, to]: number[]): number => Math.max(...sizes.slice(from, (to ?? 0) + 1))
    expect(batches.map((_, b) => plan.bytes(b))).toEqual(batches.map(sum))
    expect(batches.map((_, b) => plan.largest(b))).toEqual(batches.map(top))
    // Past the last height: nothing.
    expect([plan.bytes(batches.length), plan.largest(batches.length)]).toEqual([0, 0])
    // A block over the byte bound still goes, alone.
    const big = new BatchPlan(16, MiB, h => h < 3, () => 8 * MiB)
    expect([big.first(0), big.first(1), big.first(2), big.first(3)]).toEqual([0, 1, 2, 3])
  })
})
