import { existsSync, statSync } from 'node:fs'
import { setImmediate } from 'node:timers/promises'
import { availableParallelism } from 'node:os'
import { threadId } from 'node:worker_threads'
import { abortWaits, isPetalError, reviveError, throwIfAborted, withDetails, WorkerPool, workerScript, type WorkProgress } from '../util/index.js'
import { StorageError, type KeyOpRecord } from '../storage/index.js'
import type { Chain } from './chain.js'
import { consensusJson, MAX_FUTURE_MS } from './chain.js'
import { ChainError } from './errors.js'
import { KeyState } from './key-state.js'
import { checkGenesis, validateOnParent, type Candidate } from './validate/index.js'
import type { ReadReply, ReadRequest } from './verify-worker.js'
import { fromTuple } from './candidate-tuple.js'
import { manifestWasm, type ManifestWasm } from '../block/index.js'

// Blocks per worker message when only hashes and metadata are read (a --deep read is long enough),
// and at most this many bytes of block files in one message, so that large blocks are spread over
// the workers one by one (16 blocks of 4 MiB in one message kept one thread hashing 64 MiB while
// the other had nothing left to do) — a block larger than this goes alone.
const BATCH = 16
const BATCH_BYTES = 1 << 20
// A batch this large hashes for long enough (~0.1 s) that waiting in a worker's port gains nothing.
const ALONE_BYTES = 64 << 20
// --deep: a block this large likely holds a table of 1,024 rows or more, which the manifest hashes
// in WebAssembly; the modules are generated for the workers once the first such block is sent
// (a chain of small blocks never needs them: its tables go through node:crypto).
const WASM_BLOCK_BYTES = 1 << 20
// Runs of this thread, to name each run's channel between its workers.
let replays = 0

/**
 * `done`/`total`: bytes of block files the workers have read (they run ahead of the in-order
 * checks; with --deep each file gets three passes — hash, quick_check, rows — and a byte counts
 * once all three are done); `blocks`/`bytes`: how far the in-order validation is.
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
  /**
   * The block files' sizes, for scheduling and progress only (every file is read, hashed and
   * checked whatever they say): `verify` takes them from the index, heights 0..toHeight, asked in
   * increasing order. `total` may be a function: asked once, when a progress report's total is
   * first read.
   * Default: each file is stat'ed before the replay starts.
   */
  sizes?: { total: number | (() => number), of: (height: number) => number }
  /**
   * Signatories the caller expects (key id → hex SPKI; `verify` takes them from the index): the
   * workers check signatures ahead with them from the first window on, instead of waiting for the
   * genesis to define the first keys. A verdict counts only if made with the key the replay itself
   * reaches (check-signatures), so a wrong hint costs a second check, never a wrong verdict.
   */
  keyHints?: Readonly<Record<string, string>>
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
  // Two batches per worker at once: its next one waits in its port while this thread handles its reply.
  const pool = new WorkerPool<ReadRequest, ReadReply>(workerScript(import.meta.url, './verify-worker.js'), workers, { depth: 2 })
  // Blocks go to the workers in batches, a few batches per worker in flight.
  const batch = deep ? 1 : BATCH
  const window = workers * 3
  const pending = new Map<number, Promise<ReadReply>>()
  const exists = (h: number): boolean => (o.toHeight === undefined ? existsSync(dir.blockPath(h)) : h <= o.toHeight)
  // The work ahead, so progress can count bytes from the start: the caller's sizes, or one stat
  // per file. A total the caller computes (verify: a sum over the index, ~15 ms on 10,000 blocks)
  // is asked when a report's total is first read (report), once the first batches are out.
  let sizeOf = o.sizes?.of
  let total = o.sizes?.total ?? 0
  if (sizeOf === undefined) {
    const sizes: number[] = []
    for (let h = 0; exists(h); h++) sizes.push(fileSize(dir.blockPath(h)))
    total = sizes.reduce((a, b) => a + b, 0)
    sizeOf = h => sizes[h] ?? 0
  }
  let work: number | undefined
  const workAhead = (): number => (work ??= typeof total === 'function' ? total() : total)
  const size = sizeOf
  // --deep makes three passes over each file (hash, quick_check, rows): a byte counts as verified once
  // all three passes are done, so progress is the work divided by the passes.
  const passes = deep ? 3 : 1
  // The workers add the bytes they have read here, as they read them (shared memory: a 200 MB
  // block moves the count while it is being hashed, not only when its reply comes back).
  const progress = new SharedArrayBuffer(8)
  const counter = new BigInt64Array(progress)
  let blocks = 0
  let validatedBytes = 0
  // The total is asked only when read (a getter): the CLI shows nothing for a run that ends within
  // a second, so there verify's sum over the index (one seek per block) is never made at all.
  const report = (): void => {
    const done = Math.floor(Number(Atomics.load(counter, 0)) / passes)
    o.onProgress?.({ phase: deep ? 'verifying (deep)' : 'verifying', done, get total () { return Math.max(workAhead(), done) }, blocks, bytes: validatedBytes })
  }
  const timer = o.onProgress === undefined ? undefined : setInterval(report, PROGRESS_EVERY_MS)
  timer?.unref()
  // Batch 0 is the genesis alone, and without key hints the others wait for it: the workers check
  // signatures ahead only with the keys the caller knows when it sends a batch, and the genesis
  // defines the first ones (sent with none, every block of the first window had its two
  // signatures checked again on this thread).
  const plan = new BatchPlan(batch, BATCH_BYTES, exists, size)
  let wasm: ManifestWasm | undefined
  // --deep on several workers: their channel (block/shared-roots.ts), through which the last
  // blocks' large tables are hashed with the help of workers that have nothing left to do.
  const shareName = deep && workers > 1 ? `petal-replay-${threadId}-${++replays}` : undefined
  const first = (b: number): number => plan.first(b)
  // The signatories sent with each batch, made again only when the key state changes (apply
  // returns the same state for a block without key operations).
  let sentFor: KeyState | undefined
  let sentKeys: Record<string, string> = {}
  const keysToSend = (): Record<string, string> => {
    if (sentFor !== keys) {
      sentKeys = { ...o.keyHints, ...Object.fromEntries(keys.active().map(k => [k.keyId, k.publicKey.hex])) }
      sentFor = keys
    }
    return sentKeys
  }
  // The batch's size and largest file come from the plan, which read them to cut the batch: a
  // second loop over its heights here made this closure hot enough for TurboFan to compile it,
  // twice in some runs, with everything it calls inlined (docs/performance/verify.md, "Session 19:
  // plain verify").
  const issue = (b: number): void => {
    const from = first(b)
    if (pending.has(b) || !exists(from)) return
    const to = first(b + 1)
    const bytes = plan.bytes(b)
    // --deep: from the first large block on, every batch carries the manifest's WebAssembly
    // modules, generated here once per run rather than once in each worker.
    if (deep && wasm === undefined && plan.largest(b) >= WASM_BLOCK_BYTES) wasm = manifestWasm()
    // The last blocks, one more than there are workers: with two batches given to each worker,
    // one may still hold two when the other is done.
    const share = shareName === undefined ? undefined : { name: shareName, offer: !exists(first(b + workers + 1)) }
    // A batch that takes long is not queued behind another, nor another behind it (WorkerPool).
    const p = pool.run({ root: dir.blocksRoot, from, count: to - from, maxBytes: params.maxBlockBytes, deep, keys: keysToSend(), progress, wasm, share }, { alone: bytes >= ALONE_BYTES })
    p.catch(() => {}) // observed when awaited in order
    pending.set(b, p)
  }
  // The batch being validated (heights are read in order, so batch after batch): heights
  // from..end - 1. Its blocks are taken without an await each (take); only the next batch's
  // reply is awaited (nextBatch).
  let current: { b: number, from: number, end: number, reply: ReadReply } | undefined
  // A worker can be stuck in one file (a huge block, a slow disk): each wait for a reply stops on
  // the signal, under one listener for the run (abortWaits; taken off in the finally below).
  const waits = abortWaits(o.signal)
  const nextBatch = async (): Promise<boolean> => {
    const b = current === undefined ? 0 : current.b + 1
    for (let k = b; k < (b === 0 && o.keyHints === undefined ? 1 : b + window); k++) issue(k)
    const task = pending.get(b)
    if (task === undefined) return false
    pending.delete(b)
    const reply = await waits.wait(task)
    current = { b, from: first(b), end: first(b + 1), reply }
    return true
  }
  const take = (h: number): Candidate | undefined => {
    const r = current?.reply[h - current.from]
    if (r === undefined) return undefined
    if (Array.isArray(r)) return fromTuple(r)
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
  let failed = false
  try {
    for (; ; h++) {
      throwIfAborted(o.signal)
      if ((current === undefined || h >= current.end) && !(await nextBatch())) break
      const c = take(h)
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
      // Let the workers' replies in now and then: each reply is what hands its worker the next
      // batch, and checking many batches here in one go would leave a finished worker idle
      // meanwhile. Once per 16 blocks (a small-block batch): a worker holds a second batch in its
      // port (depth 2), ~2.5 ms of work, and this thread checks 16 blocks in ~0.3 ms; every 8
      // blocks cost a turn of the event loop (an epoll_pwait) per 8 blocks for nothing.
      // Progress goes out at the same pace, with the timer and once at the end: per block it was
      // an object, a clock read and a Progress.update for a display redrawn at most every 100 ms.
      if ((h & 15) === 0) {
        report()
        await setImmediate()
      }
    }
  } catch (err) {
    failed = true
    throw atHeight(err, h)
  } finally {
    waits.dispose()
    clearInterval(timer)
    // The last progress goes out after a failure too, but a callback that throws then must not
    // hide the failure.
    if (!failed) report()
    else try { report() } catch {}
    // After an interruption, do not wait for busy workers to stop (they are unreferenced and end
    // with the process); otherwise wait, so no thread outlives the replay.
    if (o.signal?.aborted === true) void pool.close()
    else await pool.close()
  }
  return { blocks: h, bytes, keys, last }
}

/**
 * Heights grouped into batches: batch 0 is the genesis alone, each later batch holds the next
 * heights up to `blocks` blocks and `maxBytes` bytes of files (at least one block), and ends
 * before the first height that does not exist. `exists` and `size` are asked about heights in
 * non-decreasing order (verify's sizes come from index ranges), each height's size once or twice.
 */
export class BatchPlan {
  private readonly starts = [0]
  // Per batch: the bytes of its files, and its largest file.
  private readonly sums: number[] = []
  private readonly tops: number[] = []
  constructor (private readonly blocks: number, private readonly maxBytes: number, private readonly exists: (h: number) => boolean, private readonly size: (h: number) => number) {}

  /** The first height of batch b (batch b ends where batch b + 1 starts). */
  first (b: number): number {
    this.plan(b)
    return this.starts[b] ?? 0
  }

  /** The bytes of batch b's files (0 if its first height does not exist). */
  bytes (b: number): number {
    this.plan(b)
    return this.sums[b] ?? 0
  }

  /** The size of batch b's largest file. */
  largest (b: number): number {
    this.plan(b)
    return this.tops[b] ?? 0
  }

  /** Cut the batches up to b + 1. */
  private plan (b: number): void {
    const s = this.starts
    while (s.length <= b + 1) {
      const k = s.length - 1
      const from = s[k] ?? 0
      let to = from + 1
      let bytes = this.exists(from) ? this.size(from) : 0
      let top = bytes
      // Batch 0: the genesis alone.
      while (k > 0 && to - from < this.blocks && this.exists(to)) {
        const n = this.size(to)
        if (bytes + n > this.maxBytes) break
        bytes += n
        top = Math.max(top, n)
        to++
      }
      s.push(to)
      this.sums.push(bytes)
      this.tops.push(top)
    }
  }
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
