import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { getEventListeners } from 'node:events'
import { join } from 'node:path'
import { Chain, LoadPool, loadBlock, discardLoaded, signImport, type SealVerdict } from '../../../src/chain/index.js'
import { PREPARE_ON_THREAD_MIN_BYTES } from '../../../src/chain/load-pool.js'
import { readSeal, sealPathOf, tmpBlockPath } from '../../../src/storage/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { cloneGenesis } from '../../helpers/network.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

// The load pool checks blocks on worker threads while a node catches up. Its threads take a
// while to start (seconds on a loaded machine); no block may wait for them.

const alice = fixtureKey('alice')
let source: Chain
let into: Chain

beforeAll(async () => {
  const t = await newTestChain({ key: alice })
  await signImport(t.chain, makeSqlite(join(tmpDir(), '1.db'), 5, 1), alice)
  // Over PREPARE_ON_THREAD_MIN_BYTES: its flushes run on the load thread.
  await signImport(t.chain, makeSqlite(join(tmpDir(), '2.db'), 8000, 2), alice)
  source = t.chain
  into = Chain.open(await cloneGenesis({ params: t.chain.params, genesisFile: t.chain.dir.blockPath(0) }))
})

afterAll(() => { source.close(); into.close() })

async function loadWith (pool: LoadPool, height = 1): Promise<Awaited<ReturnType<typeof loadBlock>>> {
  const p = source.dir.blockPath(height)
  return await loadBlock(into, p, readSeal(p), { expectedHash: source.get(height)?.hash, loadPool: pool })
}

describe('LoadPool', () => {
  it('checks blocks on the calling thread while its threads are not up', async () => {
    // Threads that never answer: before the fix, the load waited for them for ever.
    const pool = new LoadPool(2, { source: 'setInterval(() => {}, 1 << 30)' })
    try {
      const b = await loadWith(pool)
      expect(b.candidate.hash).toBe(source.get(1)?.hash)
      expect(b.candidate.verified).toBeUndefined()
      expect(pool.ready).toBe(false)
      // Placement writes its seal: nothing beside the file yet.
      expect(b.prepared).toBeFalsy()
      expect(existsSync(sealPathOf(b.tmp))).toBe(false)
      await discardLoaded(b)
    } finally {
      await pool.close()
    }
  })

  it('held by PETAL_PAUSE=load:warm (a test hook), a cold pool\'s first load waits for a thread and is checked there; threads that cannot start release it', async () => {
    process.env.PETAL_PAUSE = 'load:warm'
    const pool = new LoadPool(1)
    const broken = new LoadPool(2, { source: 'throw new Error(\'no thread here\')' })
    try {
      const b = await loadWith(pool)
      expect(b.candidate.hash).toBe(source.get(1)?.hash)
      expect(pool.checkedBy).toEqual([1])
      await discardLoaded(b)
      // No thread comes up: the load is checked on the calling thread once every start failed.
      const c = await loadWith(broken)
      expect(c.candidate.hash).toBe(source.get(1)?.hash)
      expect(broken.checkedBy).toEqual([0, 0])
      await discardLoaded(c)
    } finally {
      delete process.env.PETAL_PAUSE
      await pool.close()
      await broken.close()
    }
  })

  it('once a thread is up, checks there: same block, signatures checked ahead', async () => {
    const pool = new LoadPool(1)
    try {
      await discardLoaded(await loadWith(pool))
      await waitFor(() => pool.ready, { what: 'the load thread to start' })
      const b = await loadWith(pool)
      expect(b.candidate.hash).toBe(source.get(1)?.hash)
      expect(b.candidate.file.header.height).toBe(1)
      expect(b.candidate.verified).toBeDefined()
      // A small block's flushes are left to the group's placement; its seal is written beside
      // the file (unflushed), so that the main thread does not create it. Discarding removes both.
      expect(b.prepared).toBe(false)
      expect(b.sealWritten).toBe(true)
      expect(readFileSync(sealPathOf(b.tmp), 'utf8')).toBe(b.candidate.seal + '\n')
      await discardLoaded(b)
      expect([existsSync(b.tmp), existsSync(sealPathOf(b.tmp))]).toEqual([false, false])
      // A larger one: the thread wrote the seal beside the file (placement then only syncs the directory); discarding removes both.
      const big = await loadWith(pool, 2)
      expect(statSync(big.tmp).size).toBeGreaterThanOrEqual(PREPARE_ON_THREAD_MIN_BYTES)
      expect(big.candidate.verified).toBeDefined()
      expect(big.prepared).toBe(true)
      expect(readFileSync(sealPathOf(big.tmp), 'utf8')).toBe(big.candidate.seal + '\n')
      await discardLoaded(big)
      expect([existsSync(big.tmp), existsSync(sealPathOf(big.tmp))]).toEqual([false, false])
    } finally {
      await pool.close()
    }
  })

  it('adds no listener per load to the caller\'s signal (16 loads wait at once while catching up)', async () => {
    const pool = new LoadPool(1)
    try {
      await discardLoaded(await loadWith(pool))
      await waitFor(() => pool.ready, { what: 'the load thread to start' })
      const signal = new AbortController().signal
      const p = source.dir.blockPath(1)
      const loads = Array.from({ length: 12 }, async () => await loadBlock(into, p, readSeal(p), { expectedHash: source.get(1)?.hash, loadPool: pool, signal }))
      // Before the fix, each waiting load held an abort listener: 12 here, and Node warned above 10.
      let done = false
      const all = Promise.all(loads).finally(() => { done = true })
      let most = 0
      while (!done) {
        most = Math.max(most, getEventListeners(signal, 'abort').length)
        await new Promise(resolve => setImmediate(resolve))
      }
      expect(most).toBeLessThanOrEqual(1)
      for (const b of await all) await discardLoaded(b)
    } finally {
      await pool.close()
    }
  })

  it('checks blocks asked for together in one batch per thread: each gets its own outcome', async () => {
    const pool = new LoadPool(1)
    try {
      await discardLoaded(await loadWith(pool))
      await waitFor(() => pool.ready, { what: 'the load thread to start' })
      const bad = join(tmpDir(), 'bad.db')
      writeFileSync(bad, 'not a block at all')
      const p = source.dir.blockPath(1)
      const out = await Promise.allSettled([loadWith(pool), loadBlock(into, bad, readSeal(p), { loadPool: pool }), loadWith(pool)])
      expect(out.map(o => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect(out[1]).toMatchObject({ reason: { code: 'NOT_SQLITE' } })
      for (const o of out) {
        if (o.status !== 'fulfilled') continue
        expect(o.value.candidate.verified).toBeDefined()
        await discardLoaded(o.value)
      }
    } finally {
      await pool.close()
    }
  })

  it('takes the header feed\'s seal verdict only for the same key, seal and sealed fields', async () => {
    const pool = new LoadPool(1)
    try {
      await discardLoaded(await loadWith(pool))
      await waitFor(() => pool.ready, { what: 'the load thread to start' })
      const p = source.dir.blockPath(1)
      const b1 = source.get(1)
      if (b1 === undefined) throw new Error('no block 1')
      // A well-formed seal that does not verify for block 1 (the genesis's): checked, it fails.
      const wrong = readSeal(source.dir.blockPath(0))
      const key = source.keysAt(source.tip()).active()[0]?.publicKey.hex
      if (key === undefined) throw new Error('no signatory')
      const fields = { version: 2 as const, chainId: source.chainId, height: 1, rowsRoot: b1.rowsRoot }
      const sealOf = async (seal: string, verdict?: SealVerdict): Promise<boolean | undefined> => {
        const b = await loadBlock(into, p, seal, { expectedHash: b1.hash, loadPool: pool, sealChecked: verdict })
        await discardLoaded(b)
        return b.candidate.verified?.seal
      }
      expect(await sealOf(readSeal(p))).toBe(true)
      expect(await sealOf(wrong)).toBe(false)
      // The verdict says this seal verified: taken (true without a check, which would say false).
      expect(await sealOf(wrong, { key, seal: wrong, fields })).toBe(true)
      // Any difference and the seal is checked again.
      expect(await sealOf(wrong, { key, seal: readSeal(p), fields })).toBe(false)
      expect(await sealOf(wrong, { key: key.replace(/.$/, c => c === '0' ? '1' : '0'), seal: wrong, fields })).toBe(false)
      expect(await sealOf(wrong, { key, seal: wrong, fields: { ...fields, height: 2 } })).toBe(false)
      expect(await sealOf(wrong, { key, seal: wrong, fields: { ...fields, rowsRoot: '0'.repeat(64) } })).toBe(false)
      expect(await sealOf(wrong, { key, seal: wrong, fields: { ...fields, chainId: '1'.repeat(64) } })).toBe(false)
    } finally {
      await pool.close()
    }
  })

  it('checks a download\'s SQLite header on the first bytes its downloader wrote (head), on a thread and on the calling thread', async () => {
    const p = source.dir.blockPath(1)
    const b1 = source.get(1)
    if (b1 === undefined) throw new Error('no block 1')
    const bytes = readFileSync(p)
    const garbage = new Uint8Array(100).fill(0x41)
    // A download: this process's private file in tmp/, hashed as it was written.
    const download = async (pool: LoadPool, head: Uint8Array): Promise<Awaited<ReturnType<typeof loadBlock>>> => {
      const tmp = tmpBlockPath(into.dir)
      copyFileSync(p, tmp)
      return await loadBlock(into, tmp, readSeal(p), { expectedHash: b1.hash, hashed: true, consume: true, size: bytes.byteLength, head, loadPool: pool })
    }
    const cold = new LoadPool(1, { source: 'setInterval(() => {}, 1 << 30)' })
    const pool = new LoadPool(1)
    try {
      await discardLoaded(await loadWith(pool))
      await waitFor(() => pool.ready, { what: 'the load thread to start' })
      for (const q of [pool, cold]) {
        const b = await download(q, new Uint8Array(bytes.subarray(0, 100)))
        expect(b.candidate.hash).toBe(b1.hash)
        await discardLoaded(b)
        // The header is taken from `head`, not read from the file: bytes that are not SQLite's are refused as such.
        await expect(download(q, garbage)).rejects.toMatchObject({ code: 'NOT_SQLITE' })
      }
      expect(readdirSync(into.dir.tmpDir).filter(f => f.startsWith(`${process.pid}-`))).toEqual([])
      // Not a download of this process (a file given by path): its header is read from the file, whatever `head` says.
      const b = await loadBlock(into, p, readSeal(p), { expectedHash: b1.hash, hashed: true, size: bytes.byteLength, head: garbage, loadPool: pool })
      expect(b.candidate.hash).toBe(b1.hash)
      await discardLoaded(b)
      // Consumed and hashed, but not this process's own tmp/ file (another writer's name, or a
      // file elsewhere): the same, its header is read from the file.
      const elsewhere = join(tmpDir(), 'moved.db')
      copyFileSync(p, elsewhere)
      const c = await loadBlock(into, elsewhere, readSeal(p), { expectedHash: b1.hash, hashed: true, consume: true, size: bytes.byteLength, head: garbage, loadPool: pool })
      expect(c.candidate.hash).toBe(b1.hash)
      await discardLoaded(c)
    } finally {
      await pool.close()
      await cold.close()
    }
  })
})
