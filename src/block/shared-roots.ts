/**
 * A large table's manifest shared with idle threads (verify --deep's tail: the last blocks would
 * otherwise be hashed each on one core while the other has nothing left to do). The thread that
 * reads the block — the owner — splits the table into aligned chunks of rows (each a perfect
 * subtree, as parallel-roots.ts's pool chunks are), offers them on a BroadcastChannel and takes
 * chunks itself through a shared counter; a thread that gets the offer takes chunks from the same
 * counter and writes each chunk's subtree roots into shared memory. The owner folds every chunk in
 * order. A chunk a helper failed, or did not finish in time (a thread stopped or starved), the
 * owner hashes itself: the owner's own reading decides every verdict, a helper only saves it work.
 */
import { BroadcastChannel } from 'node:worker_threads'
import { MerkleBuilder } from '../crypto/index.js'
import { throwIfAborted, toHex } from '../util/index.js'
import { fastChunkNodes, type FastPlan } from './fast-rows.js'
import { rowChunks } from './row-chunks.js'
import type { PageChunk } from './table-root-worker.js'

// Chunks of this many rows: a 4 MiB block of the bench's rows (~60,000) is ~15 of them, so the
// two threads end within a few ms of each other.
export const SHARE_CHUNK_ROWS = 1 << 12
// Tables of fewer rows are not offered (one chunk is no split).
const SHARE_MIN_ROWS = 2 * SHARE_CHUNK_ROWS
// Subtree roots a chunk's reply has room for (a chunk of 2^12 rows has at most 13).
const MAX_NODES = 16
const SLOT = 8 + MAX_NODES * 40
// Chunk states (Int32 per chunk, after the counter): not done, done by a helper, failed there, or
// taken back by the owner.
const PENDING = 0
const DONE = 1
const FAILED = 2
const TAKEN_BACK = 3
// How long the owner waits for one chunk a helper took before hashing it itself.
const HELPER_WAIT_MS = 50

/** What the owner posts: plain data and shared memory, structured-cloned to every thread listening. */
interface Offer {
  path: string
  plan: FastPlan
  /** The table's leaf pages (Uint32). */
  pages: SharedArrayBuffer
  chunks: PageChunk[]
  /** Int32: [0] the next chunk to take, then one state per chunk. */
  control: SharedArrayBuffer
  /** Per chunk, SLOT bytes: node count (u32), then per node its size (f64) and hash (32 bytes). */
  nodes: SharedArrayBuffer
}

/**
 * This thread's end of a run's channel: the caller offers its large tables through `root` (verify
 * does for a run's last blocks only: splitting a table costs ~9 % more CPU on its thread, worth it
 * only where another thread would otherwise sit idle), and offers from other threads are joined
 * whenever this thread's event loop is free (between its own blocks, or idle).
 */
export class TableShare {
  private readonly channel: BroadcastChannel

  constructor (readonly name: string) {
    this.channel = new BroadcastChannel(name)
    // Never what keeps a thread alive.
    this.channel.unref()
    this.channel.onmessage = (e: unknown) => { this.helped += help((e as { data: Offer }).data) }
  }

  /** Chunks this thread hashed for other threads' tables. */
  helped = 0

  close (): void { this.channel.close() }

  /**
   * Row count and root of a rowid table from its leaves (tableLeaves), in chunks this thread and
   * any thread that joins hash; undefined when the table is too small to share.
   */
  root (path: string, plan: FastPlan, pages: number[], cells: number[], signal?: AbortSignal, onRows?: (n: number) => void): { rows: number, root: string } | undefined {
    const offered = this.offer(path, plan, pages, cells)
    return offered === undefined ? undefined : offered.finish(signal, onRows)
  }

  /**
   * The table's chunks offered to idle threads now, for this thread to take its part of and fold
   * later (finish), or to withdraw (cancel): read.ts offers a block's large tables before its
   * quick_check, so that another thread hashes them meanwhile. Undefined when too small to share.
   */
  offer (path: string, plan: FastPlan, pages: number[], cells: number[]): SharedTable | undefined {
    const chunks = chunksOf(cells, SHARE_CHUNK_ROWS)
    if (chunks.reduce((n, c) => n + c.take, 0) < SHARE_MIN_ROWS) return undefined
    const shared = new Uint32Array(new SharedArrayBuffer(pages.length * 4))
    shared.set(pages)
    const offer: Offer = { path, plan, pages: shared.buffer, chunks, control: new SharedArrayBuffer(4 * (1 + chunks.length)), nodes: new SharedArrayBuffer(SLOT * chunks.length) }
    this.channel.postMessage(offer)
    return new SharedTable(offer)
  }
}

/** A table offered to idle threads (TableShare.offer). */
export class SharedTable {
  private readonly control: Int32Array
  constructor (private readonly offer: Offer) { this.control = new Int32Array(offer.control) }

  /** No thread takes another chunk (a block refused before its manifest, an abort). */
  cancel (): void { Atomics.store(this.control, 0, this.offer.chunks.length) }

  /** Take the chunks no thread has taken yet, then fold every chunk's subtrees in order: the table's row count and root. */
  finish (signal?: AbortSignal, onRows?: (n: number) => void): { rows: number, root: string } {
    const { offer, control } = this
    const chunks = offer.chunks
    const mine: Array<Array<{ hash: Uint8Array, size: number }> | undefined> = []
    try {
      for (let i = Atomics.add(control, 0, 1); i < chunks.length; i = Atomics.add(control, 0, 1)) {
        mine[i] = hashChunk(offer, i).nodes
        throwIfAborted(signal)
      }
    } finally {
      // A failure or an abort: no helper takes another chunk.
      this.cancel()
    }
    const tree = new MerkleBuilder()
    let rows = 0
    for (let i = 0; i < chunks.length; i++) {
      const nodes = mine[i] ?? helperNodes(offer, control, i) ?? hashChunk(offer, i).nodes
      for (const n of nodes) tree.pushSubtree(n.hash, n.size)
      const take = chunks[i]?.take ?? 0
      rows += take
      onRows?.(take)
    }
    return { rows, root: toHex(tree.root()) }
  }
}

/** Aligned chunks of `size` rows over leaves with `cells` rows each (the last may be shorter), none empty. */
export function chunksOf (cells: readonly number[], size: number): PageChunk[] {
  return rowChunks(cells, () => size).filter(c => c.take > 0)
}

function hashChunk (o: Offer, i: number): { rows: number, nodes: Array<{ hash: Uint8Array, size: number }> } {
  const c = o.chunks[i]
  if (c === undefined) throw new RangeError(`chunk ${i} of ${o.chunks.length}`)
  return fastChunkNodes(o.path, o.plan, Array.from(new Uint32Array(o.pages).subarray(c.first, c.end)), c.skip, c.take, 'wasm')
}

/** A helper's subtree roots of chunk i, once it is done; undefined if it failed or is late (then taken back). */
function helperNodes (o: Offer, control: Int32Array, i: number): Array<{ hash: Uint8Array, size: number }> | undefined {
  const at = 1 + i
  if (Atomics.load(control, at) === PENDING) Atomics.wait(control, at, PENDING, HELPER_WAIT_MS)
  // Late: taken back, so that a helper finishing now does not count.
  if (Atomics.compareExchange(control, at, PENDING, TAKEN_BACK) === PENDING) return undefined
  if (Atomics.load(control, at) !== DONE) return undefined
  const view = new DataView(o.nodes, SLOT * i, SLOT)
  const count = view.getUint32(0, true)
  const nodes = []
  for (let k = 0; k < count; k++) {
    const size = view.getFloat64(8 + 40 * k, true)
    nodes.push({ size, hash: new Uint8Array(o.nodes.slice(SLOT * i + 16 + 40 * k, SLOT * i + 48 + 40 * k)) })
  }
  return nodes
}

/** A helper's side: take chunks of the offer while any are left; each result or failure is marked. Returns how many it took. */
function help (o: Offer): number {
  const control = new Int32Array(o.control)
  let taken = 0
  for (let i = Atomics.add(control, 0, 1); i < o.chunks.length; i = Atomics.add(control, 0, 1)) {
    taken++
    let state = FAILED
    try {
      const { nodes } = hashChunk(o, i)
      if (nodes.length <= MAX_NODES) {
        const view = new DataView(o.nodes, SLOT * i, SLOT)
        const bytes = new Uint8Array(o.nodes, SLOT * i, SLOT)
        view.setUint32(0, nodes.length, true)
        nodes.forEach((n, k) => { view.setFloat64(8 + 40 * k, n.size, true); bytes.set(n.hash, 16 + 40 * k) })
        state = DONE
      }
    } catch {
      // The owner hashes this chunk itself, and its error (if any) is the verdict.
    }
    Atomics.compareExchange(control, 1 + i, PENDING, state)
    Atomics.notify(control, 1 + i)
  }
  return taken
}
