// Worker thread for verify and reindex: hashes a block file and runs the structural checks, the
// per-file work that can go in parallel. Chain-context checks stay on the main thread, in order.
import { closeSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { adoptManifestWasm, readBlockFile, readBlockLean, readBlockPages, TableShare, type BlockFile, type HeldBytes, type ManifestWasm } from '../block/index.js'
import { readSmallFileNative, sha256FileSync, sha256Hex } from '../crypto/index.js'
import { BlockPaths, checkDataFile, openNoFollowSync, readSeal, readWholeSync, regularSizeSync, systemFailure } from '../storage/index.js'
import { preverify } from './validate/preverify.js'
import { toTuple, type CandidateTuple } from './candidate-tuple.js'
import type { CandidateFile, Preverified } from './validate/types.js'
import { isNotFound, isPetalError, pausepointSync, readFullySync, serializeError, serveWorker, WorkMeter, type SerializedError } from '../util/index.js'

/**
 * A batch of block files to read (one message per batch: small blocks cost less than a round
 * trip), and the signatories the caller knew when it sent the batch (key id → hex SPKI), with
 * which the worker checks the blocks' signatures ahead of the caller.
 */
export interface ReadRequest {
  /**
   * The canonical block files of heights from..from + count - 1 under this blocks' root
   * (DataDir.blocksRoot): a range rather than a path per block, which the in-order thread built
   * with two path joins per block and the structured clone copied (BlockPaths).
   */
  root: string
  from: number
  count: number
  maxBytes: number
  deep: boolean
  keys: Record<string, string>
  /** A shared BigInt64 counter: the bytes this worker has hashed and checked are added to it as it goes. */
  progress?: SharedArrayBuffer
  /** --deep: the manifest's WebAssembly modules, compiled once by the caller (adopted unless this thread has its own). */
  wasm?: ManifestWasm
  /**
   * --deep: the run's channel between its workers (block/shared-roots.ts), which every worker joins
   * to help; with `offer` (a run's last blocks), this batch's large tables are hashed in chunks
   * that a worker with nothing left to do takes part in.
   */
  share?: { name: string, offer: boolean }
}
/** Per path, in order: the result, or the coded error that file failed with, or why it is missing. */
export type ReadReply = Array<CandidateTuple | { hash: string, seal: string, file: CandidateFile, verified?: Preverified } | { error: SerializedError } | { missing: string }>

// The paths of the last root asked for.
let paths: BlockPaths | undefined

// Block files up to this size are read whole (once) by plain verify; larger ones are hashed in
// chunks of this size, of which the first and the last are kept for the page reader.
const CHUNK = 1 << 20

// A large block's first chunk and the chunk being hashed (the last one stays), reused per worker;
// a small block is read whole into headBuf (its bytes are used only until its reply is made).
let headBuf: Buffer | undefined
let tailBuf: Buffer | undefined
// This thread's end of its run's channel (--deep), kept for the pool's life.
let share: TableShare | undefined
// --deep: block files up to this size are read whole into deepBuf (grown to the largest such file
// this worker has read, kept for the next): hashed there, and the manifest's rows read from those
// bytes rather than from the file again (but the chunks of a table shared with idle workers, which
// every worker reads from the file: shared-roots.ts). Larger files are hashed in 1 MiB reads (sha256FileSync)
// and their pages read from the file: a worker's memory stays bounded whatever the block size.
const DEEP_WHOLE = 8 << 20
let deepBuf: Buffer | undefined

/**
 * --deep's read of a block file of at most DEEP_WHOLE bytes: its SHA-256 and its bytes, read once;
 * undefined for a larger file (or one that grew while it was read), which the caller hashes in
 * chunks as before. `fstat` refuses what is not a regular file, as sha256FileSync's reads would.
 */
function readDeep (path: string, add: (n: number) => void): { hash: string, bytes: Buffer } | undefined {
  const fd = openNoFollowSync(path, 'block file')
  try {
    const size = regularSizeSync(fd, path, 'block file')
    if (size > DEEP_WHOLE) return undefined
    if (deepBuf === undefined || deepBuf.length < size + 1) deepBuf = Buffer.allocUnsafe(Math.min(DEEP_WHOLE + 1, Math.max(size + 1, 2 * (deepBuf?.length ?? 0), CHUNK)))
    // One byte more than fstat said: a file that grew since is not cut short.
    const got = readFullySync(fd, deepBuf, size + 1, 0)
    if (got > size) return undefined
    add(got)
    const bytes = deepBuf.subarray(0, got)
    return { hash: sha256Hex(bytes), bytes }
  } finally {
    closeSync(fd)
  }
}

/**
 * Plain verify's single pass over an open block file: its SHA-256, and its bytes for the page
 * reader — all of them for a small file, else the first and last chunks (page 1 and the reserved
 * tables, written last, are in them) with the descriptor for any other page. One open and one
 * read of each byte per block: the page reader opening the file again and reading ahead cost
 * ~10 % of hashing a 4 MiB block. A file shorter than a chunk is read whole without `fstat`
 * (readWholeSync); any other goes by its `fstat`, which refuses what is not a regular file.
 */
function hashBlock (fd: number, path: string, add: (n: number) => void): { hash: string, bytes: Buffer | HeldBytes } {
  headBuf ??= Buffer.allocUnsafe(CHUNK)
  const head = readWholeSync(fd, headBuf)
  if (head > 0 && head < CHUNK) {
    add(head)
    const bytes = headBuf.subarray(0, head)
    return { hash: sha256Hex(bytes), bytes }
  }
  const size = regularSizeSync(fd, path, 'block file')
  if (size <= CHUNK) {
    const buf = headBuf
    const got = readFullySync(fd, buf, size, 0)
    add(got)
    return { hash: sha256Hex(buf.subarray(0, got)), bytes: buf.subarray(0, got) }
  }
  const h = createHash('sha256')
  tailBuf ??= Buffer.allocUnsafe(CHUNK)
  // The first chunk, unless the read above did not fill it (then the file changed since).
  let pos = head === CHUNK ? CHUNK : readFullySync(fd, headBuf, CHUNK, 0)
  h.update(headBuf.subarray(0, pos))
  add(pos)
  const parts = [{ at: 0, bytes: headBuf.subarray(0, pos) }]
  // The next read is the shorter one, so that the last is a whole chunk ending at the end.
  let len = (size - pos) % CHUNK || CHUNK
  for (let n = -1; n !== 0; len = CHUNK) {
    n = readFullySync(fd, tailBuf, len, pos)
    if (n === 0) break
    h.update(tailBuf.subarray(0, n))
    add(n)
    parts[1] = { at: pos, bytes: tailBuf.subarray(0, n) }
    pos += n
  }
  return { hash: h.digest('hex'), bytes: { fd, size, parts } }
}

/**
 * Plain verify's read of a block file: its SHA-256, its bytes (hashBlock's), and its reserved
 * tables from those bytes when the lean reader or the page reader takes them (else the caller's
 * readFull). A small regular file is read whole in one native call when the addon is loaded in
 * this thread (readSmallFileNative: open, fstat, pread, close, without node:fs's four calls and
 * their JavaScript); anything that call does not take goes the node:fs way, which refuses what it
 * always refused. The descriptor is closed here: readFull opens the file by its path.
 */
function readPlain (path: string, maxBytes: number, add: (n: number) => void): { hash: string, bytes: Buffer | HeldBytes, file: BlockFile | undefined } {
  headBuf ??= Buffer.allocUnsafe(CHUNK)
  const got = readSmallFileNative(path, headBuf)
  if (got > 0) {
    add(got)
    const bytes = headBuf.subarray(0, got)
    return { hash: sha256Hex(bytes), bytes, file: readBlockLean(path, maxBytes, bytes) ?? readBlockPages(path, maxBytes, bytes) }
  }
  const fd = openNoFollowSync(path, 'block file')
  try {
    const r = hashBlock(fd, path, add)
    return { hash: r.hash, bytes: r.bytes, file: (Buffer.isBuffer(r.bytes) ? readBlockLean(path, maxBytes, r.bytes) : undefined) ?? readBlockPages(path, maxBytes, r.bytes) }
  } finally {
    closeSync(fd)
  }
}

/**
 * The structural read through SQLite (with --deep, quick_check and the manifest too); `held`:
 * the bytes hashBlock read, whose header it checks rather than reading it from the file again.
 */
async function readFull (path: string, req: ReadRequest, meter?: WorkMeter, held?: Buffer | HeldBytes): Promise<BlockFile> {
  const head = held === undefined ? undefined : Buffer.isBuffer(held) ? { bytes: held, size: held.length } : { bytes: held.parts[0]?.bytes ?? Buffer.alloc(0), size: held.size }
  const bytes = req.deep && Buffer.isBuffer(held) ? held : undefined
  return await readBlockFile(path, { maxBytes: req.maxBytes, quickCheck: req.deep, checkManifest: req.deep, meter, head, bytes, share: req.share?.offer === true ? share : undefined })
}

serveWorker<ReadRequest, ReadReply>(async req => {
  const out: ReadReply = []
  const counter = req.progress === undefined ? undefined : new BigInt64Array(req.progress)
  const add = (n: number): void => { if (counter !== undefined && n > 0) Atomics.add(counter, 0, BigInt(n)) }
  // Once per batch: a hook for tests (a worker that blocks in a read), and reading the
  // environment per block cost more than the check is worth.
  pausepointSync('verify-worker:read')
  if (req.wasm !== undefined) adoptManifestWasm(req.wasm)
  if (req.share !== undefined && share?.name !== req.share.name) {
    share?.close()
    share = new TableShare(req.share.name)
  }
  if (paths?.root !== req.root) paths = new BlockPaths(req.root)
  for (let height = req.from; height < req.from + req.count; height++) {
    const path = paths.path(height)
    try {
      // --deep: before anything opens it (a named pipe in a slot would block this thread for
      // ever); plain verify's openNoFollowSync and hashBlock below refuse the same without an lstat.
      if (req.deep) checkDataFile(path, 'block file')
      // --deep: quick_check and the manifest's rows, counted as they advance.
      let counted = 0
      const meter = req.deep && counter !== undefined ? new WorkMeter(p => { add(p.done - counted); counted = p.done }) : undefined
      let hash: string
      let file: BlockFile
      if (req.deep) {
        // One read of an ordinary block for its hash, its header and its tables' rows (SQLite's
        // checks still read the file), else the file hashed in chunks and read again.
        const whole = readDeep(path, add)
        hash = whole?.hash ?? sha256FileSync(path, add)
        file = await readFull(path, req, meter, whole?.bytes)
      } else {
        // Plain: one pass for the hash and the pages, then the reserved tables straight from the
        // pages (the hash, links and signatures checked here and by the caller pin the bytes to
        // what was validated at import): an ordinary small block through the lean reader, what it
        // leaves through the general one, and anything that one does not take through the full
        // structural read with SQLite.
        const r = readPlain(path, req.maxBytes, add)
        hash = r.hash
        file = r.file ?? await readFull(path, req, undefined, r.bytes)
      }
      const seal = readSeal(path)
      // Signature checks are the costliest per-block work: do them here, in parallel, with the key
      // the caller named; the caller uses the verdict only if its own key state agrees.
      // Only what the caller uses crosses the thread boundary (CandidateFile); an ordinary block's
      // as a flat tuple (candidate-tuple.ts).
      const c = { hash, seal, file: { size: file.size, header: file.header, keyOps: file.keyOps, tables: file.tables }, verified: preverify(file, hash, seal, req.keys) }
      out.push(toTuple(c) ?? c)
    } catch (err) {
      // A failing disk or a permission problem keeps its meaning across the thread boundary.
      out.push(isNotFound(err) ? { missing: serializeError(err).message } : { error: serializeError(isPetalError(err) ? err : systemFailure(err) ?? err) })
      break // later blocks of the batch are not needed: the replay stops at the first bad one
    }
  }
  return out
})
