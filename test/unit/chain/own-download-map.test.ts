// SQLite may read a block through a memory map only when the block is this process's own download
// into its private tmp/, hashed as it was written (BlockConnectionOptions.mapOwnDownload): a file
// truncated under a map kills the process with SIGBUS instead of failing with an error. A user's
// path, given with the same options or not, and verify's reads are not mapped. Seen from the
// kernel's side: the files mapped in this process (/proc/self/maps) while the block's rows are
// hashed, after quick_check read every page. A download below MAP_MIN_BYTES (a 1 MB block, the
// pull's) is not mapped either: the map's faults and unmapping (a TLB shootdown) cost more than its
// page reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyFileSync, openSync, readFileSync, readSync, closeSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, LoadPool, loadBlock, discardLoaded, importBlock, signImport } from '../../../src/chain/index.js'
import { readBlockFile } from '../../../src/block/index.js'
import { MAP_MIN_BYTES } from '../../../src/block/sqlite.js'
import { sha256FileSync } from '../../../src/crypto/index.js'
import { WorkMeter, type OnWorkProgress } from '../../../src/util/index.js'
import { readSeal, tmpBlockPath } from '../../../src/storage/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { cloneGenesis } from '../../helpers/network.js'
import { tmpDir } from '../../helpers/tmp.js'

/** The files of `dir` (or the file `dir`) this process maps now. */
function mappedUnder (dir: string): string[] {
  const out = new Set<string>()
  for (const line of readFileSync('/proc/self/maps', 'latin1').split('\n')) {
    const at = line.indexOf('/')
    if (at >= 0 && line.slice(at).startsWith(dir)) out.add(line.slice(at))
  }
  return [...out]
}

/** A progress callback that records what is mapped under `dir` when the rows' hashing starts (the connection open, every page read). */
function watch (dir: string): { onProgress: OnWorkProgress, seen: string[][] } {
  const seen: string[][] = []
  let phase = ''
  return {
    seen,
    onProgress: p => {
      if (p.phase === 'hashing rows' && phase !== p.phase) seen.push(mappedUnder(dir))
      phase = p.phase
    }
  }
}

const alice = fixtureKey('alice')
let source: Chain
let into: Chain
/** Block 1 of `source`: large enough to be mapped. */
let block: string
/** Block 1 of another chain, ~1 MB: below MAP_MIN_BYTES. */
let small: { source: Chain, into: Chain, block: string }

beforeAll(async () => {
  const t = await newTestChain({ key: alice })
  await signImport(t.chain, makeSqlite(join(tmpDir(), '1.db'), 125_000, 1), alice)
  source = t.chain
  block = source.dir.blockPath(1)
  into = Chain.open(await cloneGenesis({ params: t.chain.params, genesisFile: t.chain.dir.blockPath(0) }))
  const s = await newTestChain({ key: alice })
  await signImport(s.chain, makeSqlite(join(tmpDir(), '2.db'), 60_000, 1), alice)
  small = { source: s.chain, block: s.chain.dir.blockPath(1), into: Chain.open(await cloneGenesis({ params: s.chain.params, genesisFile: s.chain.dir.blockPath(0) })) }
})

afterAll(() => { source.close(); into.close(); small.source.close(); small.into.close() })

/** The file's first bytes, as a download hands them on. */
function headOf (path: string): Buffer {
  const b = Buffer.alloc(4096)
  const fd = openSync(path, 'r')
  try { return b.subarray(0, readSync(fd, b, 0, b.length, 0)) } finally { closeSync(fd) }
}

/** What a download passes: the file's hash as written, its head and size, consumed. */
function downloadOptions (path: string): Parameters<typeof loadBlock>[3] {
  return { expectedHash: sha256FileSync(path), hashed: true, consume: true, head: headOf(path), size: statSync(path).size }
}

describe('a block connection\'s memory map', () => {
  it('maps the process\'s own download into tmp/, with its head or without (a large block\'s)', async () => {
    for (const withHead of [true, false]) {
      const tmp = tmpBlockPath(into.dir)
      copyFileSync(block, tmp)
      const w = watch(into.dir.tmpDir)
      const b = await loadBlock(into, tmp, readSeal(block), { ...downloadOptions(tmp), head: withHead ? headOf(tmp) : undefined, onProgress: w.onProgress })
      try {
        expect(b.candidate.hash).toBe(source.get(1)?.hash)
        expect(w.seen).toEqual([[tmp]])
      } finally {
        await discardLoaded(b)
      }
      // The connection closed, the map went with it.
      expect(mappedUnder(into.dir.tmpDir)).toEqual([])
    }
  })

  it('does not map an own download smaller than MAP_MIN_BYTES, such as a 1 MB block (its faults and unmapping cost more than its page reads)', async () => {
    const tmp = tmpBlockPath(small.into.dir)
    copyFileSync(small.block, tmp)
    const w = watch(small.into.dir.tmpDir)
    const b = await loadBlock(small.into, tmp, readSeal(small.block), { ...downloadOptions(tmp), onProgress: w.onProgress })
    try {
      expect(b.candidate.hash).toBe(small.source.get(1)?.hash)
      expect(w.seen).toEqual([[]])
    } finally {
      await discardLoaded(b)
    }
    expect(statSync(small.block).size).toBeGreaterThanOrEqual(1_000_000)
    expect(statSync(small.block).size).toBeLessThan(MAP_MIN_BYTES)
    expect(statSync(block).size).toBeGreaterThanOrEqual(MAP_MIN_BYTES)
  })

  it('does not map a user\'s file given with a download\'s options (renamed into tmp/)', async () => {
    const mine = join(tmpDir(), 'user.db')
    copyFileSync(block, mine)
    const w = watch(into.dir.tmpDir)
    const b = await loadBlock(into, mine, readSeal(block), { ...downloadOptions(mine), onProgress: w.onProgress })
    try {
      expect(b.candidate.hash).toBe(source.get(1)?.hash)
      expect(w.seen).toEqual([[]])
    } finally {
      await discardLoaded(b)
    }
  })

  it('does not map an own tmp/ file that the caller did not hash as it wrote it', async () => {
    const tmp = tmpBlockPath(into.dir)
    copyFileSync(block, tmp)
    const w = watch(into.dir.tmpDir)
    const b = await loadBlock(into, tmp, readSeal(block), { ...downloadOptions(tmp), hashed: false, onProgress: w.onProgress })
    try {
      expect(w.seen).toEqual([[]])
    } finally {
      await discardLoaded(b)
    }
  })

  it('does not map a user\'s file imported, nor a block verify reads', async () => {
    const mine = join(tmpDir(), 'user2.db')
    copyFileSync(block, mine)
    // Its private copy is made in tmp/.
    const w = watch(into.dir.tmpDir)
    const r = await importBlock(into, mine, readSeal(block), { onProgress: w.onProgress })
    expect(r.status).toBe('extended')
    expect(w.seen).toEqual([[]])
    const placed = into.pathOf(r.block)
    const v = watch(placed)
    await readBlockFile(placed, { maxBytes: into.params.maxBlockBytes, meter: new WorkMeter(v.onProgress) })
    expect(v.seen).toEqual([[]])
  })

  it('asks a load thread to map the own download only', async () => {
    // The threads run the same readBlockFile; what they are told is the caller's decision.
    const asked: Array<boolean | undefined> = []
    const pool = { load: async (_c: Chain, _p: string, _s: string, o: { ownDownload?: boolean }) => { asked.push(o.ownDownload); throw new Error('stop here') } } as unknown as LoadPool
    const tmp = tmpBlockPath(into.dir)
    copyFileSync(block, tmp)
    const mine = join(tmpDir(), 'user3.db')
    copyFileSync(block, mine)
    await expect(loadBlock(into, tmp, readSeal(block), { ...downloadOptions(tmp), loadPool: pool })).rejects.toThrow('stop here')
    await expect(loadBlock(into, mine, readSeal(block), { ...downloadOptions(mine), loadPool: pool })).rejects.toThrow('stop here')
    expect(asked).toEqual([true, false])
  })

  it('asks a load thread to hash an own download the transfer left unhashed (`written`), from the bytes its checks read', async () => {
    const asked: Array<{ ownDownload?: boolean, knownHash?: string, head?: unknown }> = []
    const pool = { load: async (_c: Chain, _p: string, _s: string, o: { ownDownload?: boolean, knownHash?: string, head?: unknown }) => { asked.push(o); throw new Error('stop here') } } as unknown as LoadPool
    const tmp = tmpBlockPath(into.dir)
    copyFileSync(block, tmp)
    await expect(loadBlock(into, tmp, readSeal(block), { ...downloadOptions(tmp), hashed: false, written: true, loadPool: pool })).rejects.toThrow('stop here')
    expect(asked).toMatchObject([{ ownDownload: true, knownHash: undefined }])
    expect(asked[0]?.head).toBeDefined()
  })
})
