// Worker thread for imports: the checks of a block that need nothing but its file (hash,
// structure, manifest) and its signatures against the keys the caller named (load-check.ts), so
// that blocks N+1…N+k are checked on other cores while block N is validated in order and placed.
import { prepareBlockFiles, writeSealUnflushed } from '../storage/index.js'
import { failpoint, serializeError, serveWorker, type SerializedError } from '../util/index.js'
import { checkLoad, type LoadReply, type LoadRequest } from './load-check.js'

export type { LoadReply, LoadRequest } from './load-check.js'

/** One block's outcome in a batch: its checks failed for it alone. */
export type LoadOutcome = { loaded: LoadReply } | { failed: SerializedError }

/**
 * `ping` is answered once the worker's modules are loaded: the pool is warm. Blocks come in
 * batches (one message each way for several blocks: the thread does not wait for the main
 * thread, busy with the network, between two small blocks).
 */
export type LoadWorkerRequest = { loads: LoadRequest[] } | { ping: true }
export type LoadWorkerReply = { outcomes: LoadOutcome[] } | { pong: true }

serveWorker<LoadWorkerRequest, LoadWorkerReply>(async req => {
  if (!('loads' in req)) return { pong: true }
  // A checked block's flushes run on the thread pool while the next block is checked.
  const outcomes: Array<Promise<LoadOutcome>> = []
  for (const r of req.loads) {
    let loaded: LoadReply
    try {
      loaded = await checkLoad(r)
    } catch (err) {
      outcomes.push(Promise.resolve({ failed: serializeError(err) }))
      continue
    }
    if (r.prepare !== true && r.writeSeal === true && writeSealUnflushed(r.path, r.seal)) {
      failpoint('load:sealed')
      loaded = { ...loaded, sealWritten: true }
    }
    outcomes.push(r.prepare !== true
      ? Promise.resolve({ loaded })
      : prepareBlockFiles(r.path, r.seal).then(() => ({ loaded: { ...loaded, prepared: true } }), (err: unknown) => ({ failed: serializeError(err) })))
  }
  return { outcomes: await Promise.all(outcomes) }
})
