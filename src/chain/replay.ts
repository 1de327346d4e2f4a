import { existsSync, statSync } from 'node:fs'
import { setImmediate } from 'node:timers/promises'
import { availableParallelism } from 'node:os'
import { abortable, isPetalError, reviveError, throwIfAborted, withDetails, WorkerPool, workerScript, type WorkProgress } from '../util/index.js'
import { StorageError, type KeyOpRecord } from '../storage/index.js'
import type { Chain } from './chain.js'
import { consensusJson, MAX_FUTURE_MS } from './chain.js'
import { ChainError } from './errors.js'
import { KeyState } from './key-state.js'
import { checkGenesis, validateOnParent, type Candidate } from './validate/index.js'
import type { ReadReply, ReadRequest } from './verify-worker.js'

// Blocks per worker message when only hashes and metadata are read (a --deep read is long enough).
const BATCH = 16

/**
 * `done`/`total`: bytes of block files the workers have read (they run ahead of the in-order
 * checks; with --deep each file is read three times, and a byte counts once its three passes are
 * done); `blocks`/`bytes`: how far the in-order validation is.
 */
export interface ReplayProgress extends WorkProgress { blocks: number, bytes: number }

// How often the workers' byte counter is reported while a large block is being read.
const PROGRESS_EVERY_MS = 100

export interface ReplayOptions {
  /** Replay heights 0..toHeight; undefined = until the first missing file. */
  toHeight?: number
  /** Also quick_check and recompute the manifest of every block (default false: hashes, seals,
   * signatures, links and key operations already cover every byte). */
  deep?: boolean
  workers?: number
  signal?: AbortSignal
  onProgress?: (p: ReplayProgress) => void
  /** Called for each block in height order, after it validated on its parent. */
  onBlock?: (c: Candidate, ops: KeyOpRecord[], keys: KeyState) => void
}

export interface ReplayResult {
  blocks: number
  bytes: number
  keys: KeyState
  /** Last valid block, if any. */
  last?: { hash: string, height: number, time: number }
}

/**
 * Re-validate the canonical block files from genesis up, as a new node would: each file is hashed
 * and structurally checked in a worker thread (in parallel), then checked in order against the key
 * state rebuilt from the replay itself — never against the index. Throws at the first bad block,
 * with its height.
 */
export async function replayChain (chain: Chain, o: ReplayOptions = {}): Promise<ReplayResult> {
  const { dir, params } = chain
  const deep = o.deep === true
  const workers = Math.max(1, o.workers ?? availableParallelism())
  const pool = new WorkerPool<ReadRequest, ReadReply>(workerScript(import.meta.url, './verify-worker.js'), workers)
  // Blocks go to the workers in batches, a few batches per worker in flight.
  const batch = deep ? 1 : BATCH
  const window = workers * 3
  const pending = new Map<number, Promise<ReadReply>>()
  const exists = (h: number): boolean => (o.toHeight === undefined ? existsSync(dir.blockPath(h)) : h <= o.toHeight)
  // The work ahead: one stat per file, so progress can count bytes from the start.
  let work = 0
  for (let h = 0; exists(h); h++) work += fileSize(dir.blockPath(h))
  // --deep reads each file three times (hash, quick_check, rows): a byte counts as verified once
  // all three passes are done, so progress is the work divided by the passes.
  const passes = deep ? 3 : 1
  // The workers add the bytes they have read here, as they read them (shared memory: a 200 MB
  // block moves the count while it is being hashed, not only when its reply comes back).
  const progress = new SharedArrayBuffer(8)
  const counter = new BigInt64Array(progress)
  let blocks = 0
  let validatedBytes = 0
  const report = (): void => {
    const done = Math.floor(Number(Atomics.load(counter, 0)) / passes)
    o.onProgress?.({ phase: deep ? 'verifying (deep)' : 'verifying', done, total: Math.max(work, done), blocks, bytes: validatedBytes })
  }
  const timer = o.onProgress === undefined ? undefined : setInterval(report, PROGRESS_EVERY_MS)
  timer?.unref()
  // Batch 0 is the genesis alone, and the others wait for it: the workers check signatures ahead
  // only with the keys the caller knows when it sends a batch, and the genesis defines the first
  // ones (sent with none, every block of the first window had its two signatures checked again on
  // this thread). Batch b ≥ 1 holds heights (b − 1)·batch + 1 … b·batch.
  const first = (b: number): number => (b === 0 ? 0 : (b - 1) * batch + 1)
  const batchOf = (h: number): number => (h === 0 ? 0 : Math.floor((h - 1) / batch) + 1)
  const issue = (b: number): void => {
    if (pending.has(b) || !exists(first(b))) return
    const paths: string[] = []
    for (let h = first(b); h < first(b + 1) && exists(h); h++) paths.push(dir.blockPath(h))
    const p = pool.run({ paths, maxBytes: params.maxBlockBytes, deep, keys: Object.fromEntries(keys.active().map(k => [k.keyId, k.publicKey.hex])), progress })
    p.catch(() => {}) // observed when awaited in order
    pending.set(b, p)
  }
  let current: { b: number, reply: ReadReply } | undefined
  const read = async (h: number): Promise<Candidate | undefined> => {
    const b = batchOf(h)
    if (current?.b !== b) {
      for (let k = b; k < (b === 0 ? 1 : b + window); k++) issue(k)
      const task = pending.get(b)
      if (task === undefined) return undefined
      pending.delete(b)
      // A worker can be stuck in one file (a huge block, a slow disk): stop waiting on a signal.
      current = { b, reply: await abortable(task, o.signal) }
    }
    const r = current.reply[h - first(b)]
    if (r === undefined) return undefined
    if ('missing' in r) {
      throw new StorageError('BLOCK_FILE_MISSING', `the file of block ${h} is missing: ${r.missing}`, { hint: 'fetch it again with `petal verify --repair` (from known peers, `--peer ADDR` or `--from DIR`), or restore it from a backup', details: { height: h } })
    }
    if ('error' in r) throw reviveError(r.error)
    return { hash: r.hash, seal: r.seal, file: r.file, verified: r.verified }
  }
  let keys = KeyState.empty()
  let last: ReplayResult['last']
  let bytes = 0
  let h = 0
  try {
    for (; ; h++) {
      throwIfAborted(o.signal)
      const c = await read(h)
      if (c === undefined) break
      let ops: KeyOpRecord[]
      if (h === 0) {
        ops = checkGenesis(c, params.genesisHash)
        const g = c.file.header.genesis
        if (g === undefined || consensusJson(g) !== consensusJson(params)) throw new ChainError('GENESIS_MISMATCH', 'chainparams.json disagrees with the genesis block', { hint: 'chainparams.json or 0000/block_00000000.db was replaced: restore the original (its genesis hash is the chain id other nodes show)' })
      } else {
        if (last === undefined) throw new ChainError('VERIFY_FAILED', 'no genesis')
        ops = validateOnParent(c, { chainId: chain.chainId, parent: last, keys, quorumRule: params.quorumRule, now: undefined, maxFutureMs: MAX_FUTURE_MS })
      }
      keys = keys.apply(ops, h)
      bytes += c.file.size
      last = { hash: c.hash, height: h, time: c.file.header.time }
      o.onBlock?.(c, ops, keys)
      blocks = h + 1
      validatedBytes = bytes
      report()
      // Let the workers' replies in now and then: each reply is what hands its worker the next
      // batch, and checking a batch here in one go would leave a finished worker idle meanwhile.
      if ((h & 7) === 0) await setImmediate()
    }
  } catch (err) {
    throw atHeight(err, h)
  } finally {
    clearInterval(timer)
    // After an interruption, do not wait for busy workers to stop (they are unreferenced and end
    // with the process); otherwise wait, so no thread outlives the replay.
    if (o.signal?.aborted === true) void pool.close()
    else await pool.close()
  }
  return { blocks: h, bytes, keys, last }
}

function fileSize (path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

/** The error with the failing height in its details (same class and code). */
function atHeight (err: unknown, height: number): unknown {
  return isPetalError(err) && err.code !== 'ABORTED' ? withDetails(err, { height }) : err
}
