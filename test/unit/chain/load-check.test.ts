// A load thread's checks of an own download below MAP_MIN_BYTES (a 1 MB block of a pull) read the
// file once, whole, and check those bytes (SQLite through the held-bytes addon, the manifest's page
// reader from the same bytes): before, SQLite's checks made one `pread` per page and the page reader
// read the file again. Seen from the kernel's side: this thread's read system calls
// (/proc/thread-self/io's syscr) for one check. The verdicts are the file's: the same candidate, and
// a damaged file refused with the code it is refused with when checked as a file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyFileSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, signImport } from '../../../src/chain/index.js'
import { checkLoad, readOwnDownload, type LoadRequest } from '../../../src/chain/load-check.js'
import { MAP_MIN_BYTES, readBlockFile } from '../../../src/block/index.js'
import { sha256FileSync } from '../../../src/crypto/index.js'
import { readSeal } from '../../../src/storage/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { nativeHeldDbBuilt } from '../../helpers/native-build.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')
let chain: Chain
/** Blocks 1 (~1 MB) and 2 (~40 KiB) of `chain`. */
let big: string
let small: string

beforeAll(async () => {
  const t = await newTestChain({ key: alice })
  await signImport(t.chain, makeSqlite(join(tmpDir(), '1.db'), 60_000, 1), alice)
  await signImport(t.chain, makeSqlite(join(tmpDir(), '2.db'), 2_000, 2), alice)
  chain = t.chain
  big = chain.dir.blockPath(1)
  small = chain.dir.blockPath(2)
})

afterAll(() => { chain.close() })

const haveIo = existsSync('/proc/thread-self/io')

/** This thread's read system calls so far. */
function readCalls (): number {
  const m = /^syscr: (\d+)$/m.exec(readFileSync('/proc/thread-self/io', 'latin1'))
  return Number(m?.[1])
}

/** A download of `block` (a private copy, its hash as written, its head and size) as the load pool asks for its checks. */
function download (block: string, change?: (b: Buffer) => Buffer): LoadRequest {
  const path = join(tmpDir(), 'dl.db')
  copyFileSync(block, path)
  if (change !== undefined) writeFileSync(path, change(readFileSync(path)))
  const hash = sha256FileSync(path)
  const bytes = readFileSync(path)
  return { path, seal: readSeal(block), expectedHash: hash, knownHash: hash, head: { bytes: bytes.subarray(0, 4096), size: bytes.length }, ownDownload: true, maxBytes: chain.params.maxBlockBytes, keys: Object.fromEntries(chain.keysAt(chain.tip()).active().map(k => [k.keyId, k.publicKey.hex])) }
}

describe('a load thread\'s check of an own download', () => {
  it.skipIf(!haveIo || !nativeHeldDbBuilt())('reads a 1 MB block\'s file once, not page by page', async () => {
    const r = download(big)
    const pages = statSync(r.path).size / 4096
    expect(pages).toBeGreaterThan(200)
    expect(r.head?.size).toBeLessThan(MAP_MIN_BYTES)
    // The first check on this thread loads modules and the addon; the one counted is the second.
    await checkLoad(r)
    const before = readCalls()
    const out = await checkLoad(r)
    const reads = readCalls() - before
    expect(out.file.header.height).toBe(1)
    expect(out.verified?.prev).toBe(true)
    // One read of the whole file and one that finds its end (and the odd read of a module); 260 before.
    expect(reads).toBeLessThanOrEqual(8)
  })

  it('gives the candidate the file gives, for blocks read one after the other into the same buffer', async () => {
    for (const block of [big, small, big]) {
      const r = download(block)
      const out = await checkLoad(r)
      const asFile = await checkLoad({ ...r, ownDownload: false })
      expect(out).toEqual(asFile)
      expect(out.file.header.height).toBe(block === big ? 1 : 2)
      expect(out.file.tables).toEqual((await readBlockFile(block, { maxBytes: chain.params.maxBlockBytes })).tables)
    }
  })

  it('refuses a damaged download with the code the file is refused with', async () => {
    // A b-tree page made invalid (its type byte): quick_check refuses it.
    const r = download(big, b => { const out = Buffer.from(b); out[40 * 4096] = 0xff; return out })
    const code = await readBlockFile(r.path, { maxBytes: chain.params.maxBlockBytes }).then(() => 'accepted', (err: { code?: string }) => err.code)
    expect(code).toBe('CORRUPT')
    await expect(checkLoad(r)).rejects.toMatchObject({ code })
  })

  it('hashes a download the transfer left unhashed from the bytes it reads, and refuses another block\'s bytes before any check', async () => {
    for (const block of [big, small]) {
      const r = download(block)
      const out = await checkLoad({ ...r, knownHash: undefined })
      expect(out.hash).toBe(r.expectedHash)
      expect(out).toEqual(await checkLoad(r))
    }
    // Block 1's bytes (a sound block) where block 2 was asked for: refused as the transfer would, by its hash.
    const other = download(small)
    const r = download(big)
    await expect(checkLoad({ ...r, knownHash: undefined, expectedHash: other.expectedHash })).rejects.toMatchObject({ code: 'HASH_MISMATCH' })
    // The buffer is given back: the next check reads into it and passes.
    expect((await checkLoad({ ...r, knownHash: undefined })).hash).toBe(r.expectedHash)
  })

  it.skipIf(!haveIo)('hashes an unhashed download without reading its file a second time', async () => {
    const r = { ...download(big), knownHash: undefined }
    await checkLoad(r)
    const before = readCalls()
    await checkLoad(r)
    const withHash = readCalls() - before
    const b2 = readCalls()
    await checkLoad({ ...r, knownHash: r.expectedHash })
    expect(withHash).toBe(readCalls() - b2)
  })

  it('checks a small block whose head is its whole bytes (a range\'s receive) from those bytes, not from its file', async () => {
    const r = download(small)
    const bytes = readFileSync(r.path)
    const whole = { ...r, head: { bytes: new Uint8Array(bytes), size: bytes.length } }
    const asFile = await checkLoad(r)
    expect(await checkLoad(whole)).toEqual(asFile)
    if (haveIo) {
      // Reading the counts makes reads of its own (counted by the next reading).
      const own = -readCalls() + readCalls()
      const before = readCalls()
      await checkLoad(whole)
      expect(readCalls() - before).toBe(own)
    }
    // The file is not read at all: emptied, the block is still checked (placement moves the file as it is).
    truncateSync(r.path, 0)
    expect(await checkLoad(whole)).toEqual(asFile)
    // Unhashed by the transfer: hashed from those bytes, and another block's bytes refused by their hash.
    expect((await checkLoad({ ...whole, knownHash: undefined })).hash).toBe(r.expectedHash)
    await expect(checkLoad({ ...whole, knownHash: undefined, expectedHash: download(big).expectedHash })).rejects.toMatchObject({ code: 'HASH_MISMATCH' })
    // A head that is not the whole file (fewer bytes than its size): the file is read, as before.
    await expect(checkLoad(r)).rejects.toThrow()
  })

  it('reads whole only a file of the size its download wrote, below MAP_MIN_BYTES', () => {
    const r = download(small)
    const size = statSync(r.path).size
    expect(readOwnDownload(r.path, size)?.equals(readFileSync(r.path))).toBe(true)
    expect(readOwnDownload(r.path)?.length).toBe(size)
    // Grown or cut short since: checked as a file, as before.
    expect(readOwnDownload(r.path, size - 4096)).toBeUndefined()
    expect(readOwnDownload(r.path, size + 4096)).toBeUndefined()
    truncateSync(r.path, size - 4096)
    expect(readOwnDownload(r.path, size)).toBeUndefined()
    expect(readOwnDownload(r.path, MAP_MIN_BYTES)).toBeUndefined()
    expect(readOwnDownload(join(tmpDir(), 'missing.db'), size)).toBeUndefined()
  })
})
