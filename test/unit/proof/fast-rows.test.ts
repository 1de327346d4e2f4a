import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it, vi } from 'vitest'
import { signImport } from '../../../src/chain/index.js'
import {
  buildProofBundle, chunkCache, ChunkPool, createCheckpoint, CHUNK_ROWS, parseTrustFile, signatoryVkey, verifyProof,
  type BundleDocument, type ChunkCache, type RowLocator, type TableChunks
} from '../../../src/proof/index.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { chainTreeOf } from '../../helpers/proof.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')
const ROWS = 5 * CHUNK_ROWS + 100 // five full chunks and a partial one

/** A rowid table with gaps in its rowids (so positions and rowids differ), in one real block. */
function sparseTable (path: string): string {
  const db = new Database(path)
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n INTEGER)')
  const ins = db.prepare('INSERT INTO t VALUES (?, ?, ?)')
  db.transaction(() => { for (let i = 0; i < ROWS; i++) ins.run(i * 3 - 50, `row ${i}`, BigInt(i) * 1000000007n) })()
  db.close()
  return path
}

describe('fast row proofs from chunk roots', () => {
  it('give exactly the proof a full pass gives, for rows in every chunk and at chunk edges, and keep it across processes', async () => {
    const { chain } = await newTestChain({ key: alice })
    const r = await signImport(chain, sparseTable(join(tmpDir(), 's.db')), alice)
    const tree = chainTreeOf(chain)
    const checkpoint = createCheckpoint({ chainId: chain.chainId, tree, tip: chain.tip().height, maxReorgDepth: chain.params.maxReorgDepth, keys: [alice] })
    const path = chain.dir.blockPath(r.block.height)
    const positions = [0, 1, CHUNK_ROWS - 1, CHUNK_ROWS, 2 * CHUNK_ROWS - 1, 2 * CHUNK_ROWS, ROWS - 1, ROWS - 100, 3 * CHUNK_ROWS + 17]
    const rowidAt = (i: number): bigint => BigInt(i * 3 - 50)
    const cacheFile = join(tmpDir(), 'proof-cache.db')
    const cache = chunkCache(cacheFile)
    const spy = { get: vi.fn(cache.get), put: vi.fn(cache.put) }
    const build = async (rows: RowLocator[], chunks?: ChunkCache): Promise<BundleDocument> =>
      await buildProofBundle([{ path, hash: r.block.hash, rows }], { chainId: chain.chainId, tree, checkpoint, chunks })
    // By position: the full pass (PathCollector). By rowid with a cache: the chunked way.
    const slow = await build(positions.map(index => ({ table: 't', index })))
    const fast = await build(positions.map(i => ({ table: 't', rowid: rowidAt(i) })), spy)
    expect(spy.put).toHaveBeenCalledTimes(1)
    expect(fast).toEqual(slow)
    const trust = await parseTrustFile(new TextEncoder().encode(await signatoryVkey(chain.chainId, alice)))
    if (typeof trust === 'string') throw new Error(trust)
    const report = await verifyProof(JSON.stringify(fast), trust)
    expect(report.ok, report.failure?.message).toBe(true)
    expect(report.rows.map(x => x.index)).toEqual([...positions].sort((a, b) => a - b))

    // Another process: the cache file answers, nothing is recomputed.
    expect(existsSync(cacheFile)).toBe(true)
    const again = chunkCache(cacheFile)
    const put = vi.fn(again.put)
    const one = await build([{ table: 't', rowid: rowidAt(3 * CHUNK_ROWS + 17) }], { get: again.get, put })
    expect(put).not.toHaveBeenCalled()
    expect(one.blocks[0]?.tables[0]?.rows).toEqual(slow.blocks[0]?.tables[0]?.rows.filter(x => x.index === 3 * CHUNK_ROWS + 17))

    // A damaged cache never yields a proof that does not hold: the table root decides.
    const bad: TableChunks | undefined = again.get(r.block.hash, 't')
    if (bad === undefined) throw new Error('no cache entry')
    const forged: TableChunks = { rows: bad.rows, ends: bad.ends, tail: bad.tail, roots: bad.roots.map((x, i) => i === 1 ? new Uint8Array(32) : x) }
    const damaged = await build([{ table: 't', rowid: rowidAt(10) }], { get: () => forged, put: () => {} })
    expect(damaged).toEqual(await build([{ table: 't', index: 10 }]))
    // A rowid that is not there.
    await expect(build([{ table: 't', rowid: 2n }], again)).rejects.toThrow(/no row with rowid 2/)
    chain.close()
  })

  it('hash chunk roots in the thread of a ChunkPool the caller owns, which stops when the caller closes it', async () => {
    const { chain } = await newTestChain({ key: alice })
    const r = await signImport(chain, sparseTable(join(tmpDir(), 's.db')), alice)
    const tree = chainTreeOf(chain)
    const checkpoint = createCheckpoint({ chainId: chain.chainId, tree, tip: chain.tip().height, maxReorgDepth: chain.params.maxReorgDepth, keys: [alice] })
    const path = chain.dir.blockPath(r.block.height)
    const rows: RowLocator[] = [{ table: 't', rowid: BigInt((2 * CHUNK_ROWS + 5) * 3 - 50) }]
    const pool = new ChunkPool()
    expect(pool.alive).toBe(0) // no thread until one is needed
    const withPool = await buildProofBundle([{ path, hash: r.block.hash, rows }], { chainId: chain.chainId, tree, checkpoint, chunks: chunkCache(join(tmpDir(), 'a.db')), chunkPool: pool })
    expect(pool.alive).toBe(1)
    const here = await buildProofBundle([{ path, hash: r.block.hash, rows }], { chainId: chain.chainId, tree, checkpoint, chunks: chunkCache(join(tmpDir(), 'b.db')) })
    expect(withPool).toEqual(here)
    await pool.close()
    expect(pool.alive).toBe(0)
    chain.close()
  })
})
