// Worker thread for imports: the checks of a block that need nothing but its file (hash,
// structure, manifest) and its signatures against the keys the caller named (load-check.ts), so
// that blocks N+1…N+k are checked on other cores while block N is validated in order and placed.
import { prepareBlockFiles, writeSealUnflushed } from '../storage/index.js'
import { parentPort } from 'node:worker_threads'
import { failpoint, serializeError, type SerializedError } from '../util/index.js'
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

/**
 * Check a batch: returns once its blocks are checked, with its reply still to come, which waits
 * for the flushes of its `prepare`d blocks (they run on libuv's pool).
 */
async function checkBatch (req: LoadWorkerRequest): Promise<{ reply: Promise<LoadWorkerReply> }> {
  if (!('loads' in req)) return { reply: Promise.resolve({ pong: true }) }
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
  return { reply: Promise.all(outcomes).then(o => ({ outcomes: o })) }
}

/**
 * serveWorker's protocol (util/worker-pool.ts: a reply per request, in the order they came) with
 * one difference: the next batch's checks start once this one's checks are done, not its flushes,
 * so a thread given two batches (LoadPool's one thread for large blocks) checks while the previous
 * block files are fsynced, instead of idling through them.
 */
function serveLoads (): void {
  const port = parentPort
  if (port === null) throw new Error('load-worker must run in a worker thread')
  let checked: Promise<unknown> = Promise.resolve()
  let replied: Promise<void> = Promise.resolve()
  port.on('message', (req: LoadWorkerRequest) => {
    const batch = checked.then(async () => await checkBatch(req))
    checked = batch.catch(() => {})
    replied = replied.then(async () => await (await batch).reply).then(
      result => { port.postMessage({ ok: true, result }) },
      (err: unknown) => { port.postMessage({ ok: false, error: serializeError(err) }) })
  })
}

serveLoads()
