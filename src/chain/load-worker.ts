// Worker thread for imports: the checks of a block that need nothing but its file (hash,
// structure, manifest) and its signatures against the keys the caller named, so that blocks
// N+1…N+k are checked on other cores while block N is validated in order and placed.
import { readBlockFile, type BlockHead } from '../block/index.js'
import { sha256FileSync } from '../crypto/index.js'
import { prepareBlockFiles } from '../storage/index.js'
import { serializeError, serveWorker, type SerializedError } from '../util/index.js'
import { checkExpectedHash, preverify, type CandidateFile, type Preverified, type SealVerdict } from './validate/index.js'

export interface LoadRequest {
  /** A private file in tmp/. */
  path: string
  seal: string
  expectedHash?: string
  /** The file's SHA-256 as its downloader computed it (not hashed again). */
  knownHash?: string
  /** The file's first bytes and size as its downloader wrote them (readBlockFile's `head`). */
  head?: BlockHead
  /** The caller's own download into its private tmp/, hashed as written (loadBlock decides): read through a memory map. */
  ownDownload?: boolean
  maxBytes: number
  /** Signatories at the caller's tip (key id → hex SPKI): the signatures are checked with these. */
  keys: Record<string, string>
  /** The header's seal as the caller verified it (not verified again if it is this block's). */
  sealChecked?: SealVerdict
  /** Once checked, make the file durable and write its `.sig` beside it (placement's per-file flushes, off the main thread). */
  prepare?: boolean
}
export interface LoadReply { hash: string, file: CandidateFile, verified?: Preverified, prepared?: boolean }

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
  const { path, seal, expectedHash, knownHash, head, ownDownload, maxBytes, keys, sealChecked } = r
  const hash = knownHash ?? sha256FileSync(path)
  checkExpectedHash(hash, expectedHash)
  const file = await readBlockFile(path, { maxBytes, head, ownDownload })
  // A verdict on the header's seal holds for the block only if the block is that header's. Only
  // what the caller uses crosses the thread boundary (CandidateFile, as verify's workers send):
  // the path, the SQLite header and the user tables' descriptions were half of each reply.
  return { hash, file: { size: file.size, header: file.header, keyOps: file.keyOps, tables: file.tables }, verified: preverify(file, hash, seal, keys, hash === expectedHash ? sealChecked : undefined) }
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
    outcomes.push(r.prepare !== true
      ? Promise.resolve({ loaded })
      : prepareBlockFiles(r.path, r.seal).then(() => ({ loaded: { ...loaded, prepared: true } }), (err: unknown) => ({ failed: serializeError(err) })))
  }
  return { outcomes: await Promise.all(outcomes) }
})
