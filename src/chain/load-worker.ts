// Worker thread for imports: the checks of a block that need nothing but its file (hash,
// structure, manifest) and its signatures against the keys the caller named, so that blocks
// N+1…N+k are checked on other cores while block N is validated in order and placed.
import { readBlockFile } from '../block/index.js'
import { sha256FileSync } from '../crypto/index.js'
import { prepareBlockFiles, sealPathOf } from '../storage/index.js'
import { failpoint, serializeError, serveWorker, writeNewFileSync, type SerializedError } from '../util/index.js'
import { checkExpectedHash, preverify, type Preverified, type SealVerdict } from './validate/index.js'
import type { BlockFile } from '../block/index.js'

export interface LoadRequest {
  /** A private file in tmp/. */
  path: string
  seal: string
  expectedHash?: string
  /** The file's SHA-256 as its downloader computed it (not hashed again). */
  knownHash?: string
  maxBytes: number
  /** Signatories at the caller's tip (key id → hex SPKI): the signatures are checked with these. */
  keys: Record<string, string>
  /** The header's seal as the caller verified it (not verified again if it is this block's). */
  sealChecked?: SealVerdict
  /** Once checked, make the file durable and write its `.sig` beside it (placement's per-file flushes, off the main thread). */
  prepare?: boolean
  /**
   * The block's bytes (`path` does not exist yet): create the file before the checks, and its
   * `.sig` once they pass, neither fsynced (placement flushes both). Creating a file can wait
   * for the file system's journal: here, not on the main thread, which receives the blocks.
   */
  bytes?: Uint8Array
}
/** `sealWritten`: the `.sig` exists beside the file, not yet durable. */
export interface LoadReply { hash: string, file: BlockFile, verified?: Preverified, prepared?: boolean, sealWritten?: boolean }

/** One block's outcome in a batch: its checks failed for it alone. */
export type LoadOutcome = { loaded: LoadReply } | { failed: SerializedError }

/**
 * `ping` is answered once the worker's modules are loaded: the pool is warm. Blocks come in
 * batches (one message each way for several blocks: the thread does not wait for the main
 * thread, busy with the network, between two small blocks).
 */
export type LoadWorkerRequest = { loads: LoadRequest[] } | { ping: true }
export type LoadWorkerReply = { outcomes: LoadOutcome[] } | { pong: true }

async function load (r: LoadRequest): Promise<LoadReply> {
  const { path, seal, expectedHash, knownHash, maxBytes, keys, sealChecked, bytes } = r
  if (bytes !== undefined) writeNewFileSync(path, [bytes], bytes.byteLength)
  const hash = knownHash ?? sha256FileSync(path)
  checkExpectedHash(hash, expectedHash)
  // A block handed over as bytes was just written from them to a file this thread created: its
  // header is checked on the bytes, not read back (the same checks and codes, read-head.test.ts).
  const file = await readBlockFile(path, bytes === undefined ? { maxBytes } : { maxBytes, head: { bytes, size: bytes.byteLength } })
  // A verdict on the header's seal holds for the block only if the block is that header's.
  return { hash, file, verified: preverify(file, hash, seal, keys, hash === expectedHash ? sealChecked : undefined) }
}

serveWorker<LoadWorkerRequest, LoadWorkerReply>(async req => {
  if (!('loads' in req)) return { pong: true }
  // A checked block's flushes run on the thread pool while the next block is checked.
  const outcomes: Array<Promise<LoadOutcome>> = []
  for (const r of req.loads) {
    let loaded: LoadReply
    try {
      loaded = await load(r)
    } catch (err) {
      outcomes.push(Promise.resolve({ failed: serializeError(err) }))
      continue
    }
    if (r.prepare === true) {
      outcomes.push(prepareBlockFiles(r.path, r.seal).then(() => ({ loaded: { ...loaded, prepared: true } }), (err: unknown) => ({ failed: serializeError(err) })))
      continue
    }
    if (r.bytes !== undefined) {
      try {
        const sig = Buffer.from(r.seal + '\n', 'utf8')
        writeNewFileSync(sealPathOf(r.path), [sig], sig.byteLength)
        failpoint('load:sig-written')
        loaded = { ...loaded, sealWritten: true }
      } catch (err) {
        outcomes.push(Promise.resolve({ failed: serializeError(err) }))
        continue
      }
    }
    outcomes.push(Promise.resolve({ loaded }))
  }
  return { outcomes: await Promise.all(outcomes) }
})
