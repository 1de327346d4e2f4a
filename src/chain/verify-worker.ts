// Worker thread for verify and reindex: hashes a block file and runs the structural checks, the
// per-file work that can go in parallel. Chain-context checks stay on the main thread, in order.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { readBlockFile, readBlockPages, type BlockFile } from '../block/index.js'
import { sha256FileSync, sha256Hex } from '../crypto/index.js'
import { checkDataFile, readSeal, systemFailure } from '../storage/index.js'
import { preverify } from './validate/preverify.js'
import type { Preverified } from './validate/types.js'
import { isNotFound, isPetalError, pausepointSync, serializeError, serveWorker, WorkMeter, type SerializedError } from '../util/index.js'

/**
 * A batch of block files to read (one message per batch: small blocks cost less than a round
 * trip), and the signatories the caller knew when it sent the batch (key id → hex SPKI), with
 * which the worker checks the blocks' signatures ahead of the caller.
 */
export interface ReadRequest {
  paths: string[]
  maxBytes: number
  deep: boolean
  keys: Record<string, string>
  /** A shared BigInt64 counter: the bytes this worker has hashed and checked are added to it as it goes. */
  progress?: SharedArrayBuffer
}
/** Per path, in order: the result, or the coded error that file failed with, or why it is missing. */
export type ReadReply = Array<{ hash: string, seal: string, file: BlockFile, verified?: Preverified } | { error: SerializedError } | { missing: string }>

// Block files up to this size are read whole (once) by plain verify: fewer opens and reads per block.
const SMALL_FILE = 1 << 20

/** The whole file when it is at most SMALL_FILE bytes (size taken from the open file), else undefined. */
function readSmall (path: string): Buffer | undefined {
  const fd = openSync(path, 'r')
  try {
    const size = fstatSync(fd).size
    if (size > SMALL_FILE) return undefined
    const buf = Buffer.allocUnsafe(size)
    let got = 0
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got)
      if (n === 0) break
      got += n
    }
    return buf.subarray(0, got)
  } finally {
    closeSync(fd)
  }
}

serveWorker<ReadRequest, ReadReply>(async req => {
  const out: ReadReply = []
  const counter = req.progress === undefined ? undefined : new BigInt64Array(req.progress)
  const add = (n: number): void => { if (counter !== undefined && n > 0) Atomics.add(counter, 0, BigInt(n)) }
  for (const path of req.paths) {
    try {
      // Before anything opens it: a named pipe in a slot would block this thread for ever.
      checkDataFile(path, 'block file')
      pausepointSync('verify-worker:read')
      // A small file is read once, for its hash and its pages; a large one is hashed in pieces.
      const small = req.deep ? undefined : readSmall(path)
      const hash = small === undefined ? sha256FileSync(path, add) : sha256Hex(small)
      if (small !== undefined) add(small.length)
      // --deep: quick_check and the manifest's rows, counted as they advance.
      let counted = 0
      const meter = req.deep && counter !== undefined ? new WorkMeter(p => { add(p.done - counted); counted = p.done }) : undefined
      // Plain: the reserved tables straight from the pages (the hash, links and signatures checked
      // here and by the caller pin the bytes to what was validated at import); --deep, or anything
      // the page reader does not take: the full structural read through SQLite.
      const file = (req.deep ? undefined : readBlockPages(path, req.maxBytes, small)) ??
        await readBlockFile(path, { maxBytes: req.maxBytes, quickCheck: req.deep, checkManifest: req.deep, meter })
      const seal = readSeal(path)
      // Signature checks are the costliest per-block work: do them here, in parallel, with the key
      // the caller named; the caller uses the verdict only if its own key state agrees.
      out.push({ hash, seal, file, verified: preverify(file, hash, seal, req.keys) })
    } catch (err) {
      // A failing disk or a permission problem keeps its meaning across the thread boundary.
      out.push(isNotFound(err) ? { missing: serializeError(err).message } : { error: serializeError(isPetalError(err) ? err : systemFailure(err) ?? err) })
      break // later blocks of the batch are not needed: the replay stops at the first bad one
    }
  }
  return out
})
