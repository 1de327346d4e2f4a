import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, LoadPool, loadBlock, discardLoaded, signImport } from '../../../src/chain/index.js'
import { ONE_THREAD_MIN_BYTES } from '../../../src/chain/load-pool.js'
import { readSeal } from '../../../src/storage/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { cloneGenesis } from '../../helpers/network.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

// Which load thread checks what: large blocks on one thread (two batches in its port, the next
// checked while the previous one's files are flushed), small ones shared among every thread.

const alice = fixtureKey('alice')
let source: Chain
let into: Chain

beforeAll(async () => {
  const t = await newTestChain({ key: alice })
  await signImport(t.chain, makeSqlite(join(tmpDir(), 'small.db'), 5, 1), alice)
  await signImport(t.chain, makeSqlite(join(tmpDir(), 'large.db'), 24_000, 2), alice)
  source = t.chain
  into = Chain.open(await cloneGenesis({ params: t.chain.params, genesisFile: t.chain.dir.blockPath(0) }))
}, 60_000)

afterAll(() => { source.close(); into.close() })

async function loadAll (pool: LoadPool, height: number, n: number, bad?: number): Promise<Array<PromiseSettledResult<Awaited<ReturnType<typeof loadBlock>>>>> {
  const p = source.dir.blockPath(height)
  const size = statSync(p).size
  const garbage = join(tmpDir(), 'garbage.db')
  writeFileSync(garbage, Buffer.alloc(size, 0x41))
  return await Promise.allSettled(Array.from({ length: n }, async (_, i) => i === bad
    ? await loadBlock(into, garbage, readSeal(p), { loadPool: pool, size })
    : await loadBlock(into, p, readSeal(p), { expectedHash: source.get(height)?.hash, loadPool: pool, size })))
}

describe('LoadPool threads', () => {
  it('starts one thread while only large blocks come, and the others with the first small block', async () => {
    const pool = new LoadPool(2)
    try {
      // The first loads, large: checked on the calling thread until the one thread started is up, then there.
      for (const o of await loadAll(pool, 2, 2)) if (o.status === 'fulfilled') await discardLoaded(o.value)
      await waitFor(() => pool.ready, { what: 'the first load thread to start' })
      for (const o of await loadAll(pool, 2, 4)) if (o.status === 'fulfilled') await discardLoaded(o.value)
      expect(pool.started).toBe(1)
      expect(pool.up).toBe(1)
      expect(pool.checkedBy).toEqual([4, 0])
      // A small block: the second thread starts (catch-up needs every thread).
      for (const o of await loadAll(pool, 1, 1)) if (o.status === 'fulfilled') await discardLoaded(o.value)
      expect(pool.started).toBe(2)
      await waitFor(() => pool.up === 2, { what: 'the second load thread to start' })
    } finally {
      await pool.close()
    }
  }, 60_000)

  it('starts the other threads when the first cannot start', async () => {
    process.env.PETAL_PAUSE = 'load:warm'
    const broken = new LoadPool(2, { source: 'throw new Error(\'no thread here\')' })
    try {
      // Held until a thread is up or every start failed: the large block's one thread fails, the other is started, fails too.
      const [o] = await loadAll(broken, 2, 1)
      expect(o?.status).toBe('fulfilled')
      if (o?.status === 'fulfilled') await discardLoaded(o.value)
      expect(broken.started).toBe(2)
      expect(broken.checkedBy).toEqual([0, 0])
    } finally {
      delete process.env.PETAL_PAUSE
      await broken.close()
    }
  }, 60_000)

  it('checks large blocks on one thread and shares small ones among every thread; each block gets its own outcome', async () => {
    expect(statSync(source.dir.blockPath(2)).size).toBeGreaterThanOrEqual(ONE_THREAD_MIN_BYTES)
    expect(statSync(source.dir.blockPath(1)).size).toBeLessThan(ONE_THREAD_MIN_BYTES)
    const pool = new LoadPool(2)
    try {
      for (const o of await loadAll(pool, 1, 1)) if (o.status === 'fulfilled') await discardLoaded(o.value)
      await waitFor(() => pool.up === 2, { what: 'both load threads to start' })
      const before = [...pool.checkedBy]
      // Twelve large blocks at once, the eighth not a block: all on the first thread, in two
      // batches (8 and 4) that it holds at once; each outcome is its own block's.
      const large = await loadAll(pool, 2, 12, 7)
      expect(large.map(o => o.status)).toEqual([...Array(7).fill('fulfilled'), 'rejected', ...Array(4).fill('fulfilled')])
      expect(large[7]).toMatchObject({ reason: { code: 'NOT_SQLITE' } })
      for (const o of large) {
        if (o.status !== 'fulfilled') continue
        expect(o.value.prepared).toBe(true)
        expect(o.value.candidate.verified).toBeDefined()
        await discardLoaded(o.value)
      }
      expect(pool.checkedBy.map((n, i) => n - (before[i] ?? 0))).toEqual([12, 0])
      // Twelve small ones at once (each queued once its copy is made): both threads take some (catch-up needs every thread).
      const mid = [...pool.checkedBy]
      const small = await loadAll(pool, 1, 12)
      expect(small.every(o => o.status === 'fulfilled')).toBe(true)
      for (const o of small) if (o.status === 'fulfilled') await discardLoaded(o.value)
      const shared = pool.checkedBy.map((n, i) => n - (mid[i] ?? 0))
      expect(shared[0]! + shared[1]!).toBe(12)
      expect(shared.every(n => n > 0)).toBe(true)
    } finally {
      await pool.close()
    }
  }, 60_000)
})
