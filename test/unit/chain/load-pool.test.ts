import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { getEventListeners } from 'node:events'
import { join } from 'node:path'
import { Chain, LoadPool, loadBlock, discardLoaded, signImport, type SealVerdict } from '../../../src/chain/index.js'
import { PREPARE_ON_THREAD_MIN_BYTES } from '../../../src/chain/load-pool.js'
import { prepareBlocks, readSeal, sealPathOf, tmpBlockPath } from '../../../src/storage/index.js'
import { sha256Hex } from '../../../src/crypto/index.js'
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

  it('once a thread is up, checks there: same block, signatures checked ahead', async () => {
    const pool = new LoadPool(1)
    try {
      await discardLoaded(await loadWith(pool))
      await waitFor(() => pool.ready, { what: 'the load thread to start' })
      const b = await loadWith(pool)
      expect(b.candidate.hash).toBe(source.get(1)?.hash)
      expect(b.candidate.file.header.height).toBe(1)
      expect(b.candidate.verified).toBeDefined()
      // A small block's flushes are left to the group's placement: nothing beside the file.
      expect(b.prepared).toBe(false)
      expect(existsSync(sealPathOf(b.tmp))).toBe(false)
      await discardLoaded(b)
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
})

describe('LoadPool: a block handed over as bytes (a small block of a range)', () => {
  /** loadBlock as catch-up calls it for a block it holds in memory: its tmp/ file does not exist yet. */
  async function loadBytes (pool: LoadPool | undefined, bytes: Uint8Array, seal: string, expectedHash: string): Promise<Awaited<ReturnType<typeof loadBlock>>> {
    const path = tmpBlockPath(into.dir)
    expect(existsSync(path)).toBe(false)
    return await loadBlock(into, path, seal, { expectedHash, hashed: true, consume: true, bytes, loadPool: pool })
  }
  const block1 = (): { bytes: Uint8Array, seal: string, hash: string } => {
    const p = source.dir.blockPath(1)
    return { bytes: new Uint8Array(readFileSync(p)), seal: readSeal(p), hash: source.get(1)?.hash ?? '' }
  }

  it('a thread creates its file, checks it as a file, then writes its .sig (not fsynced): the same candidate as from the file', async () => {
    const pool = new LoadPool(1)
    try {
      await discardLoaded(await loadWith(pool))
      await waitFor(() => pool.ready, { what: 'the load thread to start' })
      const { bytes, seal, hash } = block1()
      const fromFile = await loadWith(pool)
      const b = await loadBytes(pool, bytes, seal, hash)
      expect(b.candidate.hash).toBe(hash)
      expect(b.candidate.file.header).toEqual(fromFile.candidate.file.header)
      expect(b.candidate.file.tables).toEqual(fromFile.candidate.file.tables)
      expect(b.candidate.verified).toEqual(fromFile.candidate.verified)
      expect(new Uint8Array(readFileSync(b.tmp))).toEqual(bytes)
      expect(b.sealWritten).toBe(true)
      expect(b.prepared).toBe(false)
      expect(readFileSync(sealPathOf(b.tmp), 'utf8')).toBe(seal + '\n')
      // Placement's flush takes the .sig as it is (fsynced, not rewritten).
      await prepareBlocks([{ file: b.tmp, seal, sealWritten: true }])
      expect(readFileSync(sealPathOf(b.tmp), 'utf8')).toBe(seal + '\n')
      await discardLoaded(fromFile)
      await discardLoaded(b)
      expect([existsSync(b.tmp), existsSync(sealPathOf(b.tmp))]).toEqual([false, false])
    } finally {
      await pool.close()
    }
  })

  it('without a thread up, or without a pool (a lone block), this thread writes the file; placement writes the .sig', async () => {
    const { bytes, seal, hash } = block1()
    const cold = new LoadPool(2, { source: 'setInterval(() => {}, 1 << 30)' })
    try {
      for (const pool of [cold, undefined]) {
        const b = await loadBytes(pool, bytes, seal, hash)
        expect(b.candidate.hash).toBe(hash)
        expect(new Uint8Array(readFileSync(b.tmp))).toEqual(bytes)
        expect(b.sealWritten).toBeFalsy()
        expect(existsSync(sealPathOf(b.tmp))).toBe(false)
        await discardLoaded(b)
      }
    } finally {
      await cold.close()
    }
  })

  it('bytes that are not a sound block are refused with the same code as their file, and leave neither file nor .sig', async () => {
    const pool = new LoadPool(1)
    try {
      await discardLoaded(await loadWith(pool))
      await waitFor(() => pool.ready, { what: 'the load thread to start' })
      const { bytes, seal } = block1()
      const cut = bytes.slice(0, bytes.byteLength - 1000)
      const garbage = new TextEncoder().encode('not a block at all')
      // The header is checked on the bytes (not read back from the file): a header cut short, one
      // in WAL mode, one with a page size SQLite does not have.
      const short = bytes.slice(0, 60)
      const wal = bytes.slice()
      wal[18] = 2
      wal[19] = 2
      const pageSize = bytes.slice()
      pageSize[16] = 0x03
      pageSize[17] = 0x00
      for (const [bad, code] of [[cut, undefined], [garbage, 'NOT_SQLITE'], [short, undefined], [wal, undefined], [pageSize, undefined]] as const) {
        const asFile = join(tmpDir(), 'bad.db')
        writeFileSync(asFile, bad)
        const byFile = await loadBlock(into, asFile, seal, { loadPool: pool }).then(() => undefined, (err: { code?: string }) => err.code)
        expect(byFile).toBeDefined()
        if (code !== undefined) expect(byFile).toBe(code)
        const before = readdirSync(into.dir.tmpDir).length
        const path = tmpBlockPath(into.dir)
        const byBytes = await loadBlock(into, path, seal, { expectedHash: sha256Hex(bad), hashed: true, consume: true, bytes: bad, loadPool: pool }).then(() => undefined, (err: { code?: string }) => err.code)
        expect(byBytes).toBe(byFile)
        expect([existsSync(path), existsSync(sealPathOf(path))]).toEqual([false, false])
        expect(readdirSync(into.dir.tmpDir).length).toBe(before)
      }
    } finally {
      await pool.close()
    }
  })

  it('are written only to a fresh file of this process in tmp/ with consume: any other path, or a copy, is refused before anything is written', async () => {
    const { bytes, seal, hash } = block1()
    const outside = join(tmpDir(), 'elsewhere.db')
    const before = readdirSync(into.dir.tmpDir).length
    // A path outside tmp/ (consumed or copied), and this process's own tmp/ path without consume (it would be copied, then left).
    for (const [path, consume] of [[outside, true], [outside, false], [tmpBlockPath(into.dir), false]] as const) {
      await expect(loadBlock(into, path, seal, { expectedHash: hash, hashed: true, consume, bytes })).rejects.toThrow(/fresh file of this process in tmp/)
      expect(existsSync(path)).toBe(false)
    }
    expect(readdirSync(into.dir.tmpDir).length).toBe(before)
    // The same bytes at a fresh tmp/ path with consume load.
    await discardLoaded(await loadBytes(undefined, bytes, seal, hash))
  })

})
