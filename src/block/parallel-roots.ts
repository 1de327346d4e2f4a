import { statSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { isMainThread } from 'node:worker_threads'
import { MerkleBuilder } from '../crypto/index.js'
import { AbortError, throwIfAborted, toHex, WorkerPool, workerScript } from '../util/index.js'
import { canonicalSource, rowsRootOf, smallTableRoot, tableRoot, type Manifest, type OnRows } from './manifest.js'
import { quoteIdent, type Db } from './sqlite.js'
import type { UserTable } from './schema.js'
import type { ChunkNodes, ChunkReply, ChunkRequest } from './table-root-worker.js'
import { BtreeUnsupported } from './btree.js'
import { fastTableLeaves, fastTableRoot, planFastTable, type FastPlan, type LeafEncoderMode } from './fast-rows.js'
import { rowChunks } from './row-chunks.js'
import type { TableShare } from './shared-roots.js'

// A chunk is 2^14 rows: an aligned run of 2^k leaves is a perfect subtree of the RFC 6962 tree, so
// chunk roots hashed in parallel fold into exactly the root a sequential pass gives.
export const CHUNK_ROWS = 1 << 14
const TAIL_CHUNK_ROWS = CHUNK_ROWS / 4
// Below this many rows a table is hashed on the calling thread (worker start-up would dominate).
const PARALLEL_MIN_ROWS = 4 * CHUNK_ROWS

/**
 * Worker threads that hash chunks of large tables. A resource of the composition root (node/,
 * a CLI command), which creates it and closes it; threads start on first use, so a pool that
 * only ever sees small blocks costs nothing.
 */
export class TableRootPool {
  private pool: WorkerPool<ChunkRequest, ChunkReply> | undefined
  private closed = false

  /**
   * `size`: how many threads; by default the machine's parallelism, read when first needed (every
   * command that opens a chain has a pool, and most never hash a table large enough to use it:
   * they then never load node:os for it).
   */
  constructor (private readonly size?: number) {}

  /** How many threads the pool runs (once started). */
  get threads (): number { return Math.max(1, this.size ?? availableParallelism()) }

  /** Worker threads alive now (0 before first use and after close). */
  get alive (): number { return this.pool?.alive ?? 0 }

  async run (req: ChunkRequest): Promise<ChunkReply> {
    if (this.closed) throw new AbortError('table-root worker pool closed')
    this.pool ??= new WorkerPool(workerScript(import.meta.url, './table-root-worker.js'), this.size ?? availableParallelism())
    return await this.pool.run(req)
  }

  async close (): Promise<void> {
    this.closed = true
    await this.pool?.close()
    this.pool = undefined
  }
}

/**
 * A table's root: from the file's pages when the fast path can read the table (fast-rows.ts),
 * else through SQLite (manifest.ts, the reference). Large rowid tables are hashed in `pool`'s
 * worker threads when we are on the main thread (inside a worker — verify — blocks are already
 * processed in parallel); without a pool, on this thread. `source`: the whole file's bytes, if the
 * caller holds them (fast-rows.ts's fastTableRoot reads its pages from there). `planned`: the
 * table's plan (planFastTable; null: not one the fast path reads) when the caller has it for `db`'s schema.
 */
export async function tableRootParallel (path: string, db: Db, t: UserTable, pool: TableRootPool | undefined, signal?: AbortSignal, onRows?: OnRows, share?: TableShare, mode?: LeafEncoderMode, source?: Buffer, planned?: FastPlan | null): Promise<{ rows: number, root: string }> {
  const plan = planned === undefined ? planFastTable(db, t) : planned ?? undefined
  if (plan !== undefined) {
    const fast = await fastRoot(path, plan, pool, signal, onRows, share, mode, source)
    if (fast !== undefined) return fast
  }
  return await sqlTableRoot(path, db, t, pool, signal, onRows)
}

// The fast path asks only of tables large enough for the threads (it counts a table's leaf cells
// first, from its interior pages): node:worker_threads and node:os are then loaded by commands
// that hash such a table, not by every command that builds or reads a block.
const useThreads = (pool: TableRootPool | undefined): pool is TableRootPool => pool !== undefined && isMainThread && availableParallelism() >= 2

/**
 * The fast path, or undefined when it met something it does not read with certainty. `share`
 * (a verify worker's): a large rowid table is hashed in chunks that idle threads may take part in
 * (shared-roots.ts).
 */
async function fastRoot (path: string, plan: FastPlan, pool: TableRootPool | undefined, signal?: AbortSignal, onRows?: OnRows, share?: TableShare, mode?: LeafEncoderMode, source?: Buffer): Promise<{ rows: number, root: string } | undefined> {
  try {
    if ((pool !== undefined || share !== undefined) && !plan.withoutRowid) {
      const { pages, cells } = fastTableLeaves(path, plan, source)
      const total = cells.reduce((n, c) => n + c, 0)
      if (pool !== undefined && total >= PARALLEL_MIN_ROWS && useThreads(pool)) return await fastRootThreads(path, plan, pool, pages, cells, signal, onRows)
      const shared = share?.root(path, plan, pages, cells, signal, onRows)
      if (shared !== undefined) return shared
    }
    const r = fastTableRoot(path, plan, n => { throwIfAborted(signal); onRows?.(n) }, mode, source)
    return { rows: r.rows, root: toHex(r.root) }
  } catch (err) {
    if (err instanceof BtreeUnsupported) return undefined
    throw err
  }
}

/**
 * Chunks of CHUNK_ROWS consecutive rows (each a perfect subtree), hashed by the pool's threads:
 * each thread is sent the whole list and takes chunks from it through a shared counter.
 */
async function fastRootThreads (path: string, plan: FastPlan, pool: TableRootPool, pages: number[], cells: number[], signal?: AbortSignal, onRows?: OnRows): Promise<{ rows: number, root: string } | undefined> {
  throwIfAborted(signal)
  // The last rows go in quarter chunks (still aligned: every chunk before them is whole), so that
  // one thread is not left hashing a whole chunk while the others have nothing left to take.
  const tail = 2 * pool.threads * CHUNK_ROWS
  const chunks = rowChunks(cells, left => left > tail ? CHUNK_ROWS : TAIL_CHUNK_ROWS)
  // Layout: table-root-worker.ts, ChunkRequest.
  const control = new SharedArrayBuffer(16)
  const counters = new Int32Array(control, 0, 1)
  const rowsHashed = new BigInt64Array(control, 8, 1)
  const stop = (): void => { Atomics.store(counters, 0, chunks.length) }
  let reported = 0
  const report = (): void => {
    const n = Number(Atomics.load(rowsHashed, 0))
    if (n > reported) onRows?.(n - reported)
    reported = Math.max(reported, n)
  }
  signal?.addEventListener('abort', stop)
  const timer = onRows === undefined ? undefined : setInterval(report, PROGRESS_MS)
  let replies: ChunkReply[]
  try {
    // One copy of the page list for every thread (a 2 GiB table lists ~500,000 pages).
    const shared = new Uint32Array(new SharedArrayBuffer(pages.length * 4))
    shared.set(pages)
    const req: ChunkRequest = { kind: 'pages', path, plan, pages: shared.buffer, chunks, control }
    replies = await Promise.all(Array.from({ length: Math.min(pool.threads, chunks.length) }, async () => await pool.run(req).catch((err: unknown) => { stop(); throw err })))
  } finally {
    clearInterval(timer)
    signal?.removeEventListener('abort', stop)
  }
  report()
  throwIfAborted(signal)
  const byIndex: Array<{ rows: number, nodes: ChunkNodes } | undefined> = []
  for (const r of replies) {
    if ('unsupported' in r) return undefined
    if (!('done' in r)) throw new TypeError('a pages request answered without its chunks')
    for (const c of r.done) byIndex[c.index] = c
  }
  const tree = new MerkleBuilder()
  let rows = 0
  for (let i = 0; i < chunks.length; i++) {
    const c = byIndex[i]
    if (c === undefined) throw new TypeError(`chunk ${i} of ${chunks.length} was not hashed`)
    for (const n of c.nodes) tree.pushSubtree(n.hash, n.size)
    rows += c.rows
  }
  return { rows, root: toHex(tree.root()) }
}

// How often the rows hashed by the threads are reported while a table is being hashed.
const PROGRESS_MS = 100

/** The reference path: rows read through SQLite, large rowid tables in rowid ranges over the pool. */
async function sqlTableRoot (path: string, db: Db, t: UserTable, pool: TableRootPool | undefined, signal?: AbortSignal, onRows?: OnRows): Promise<{ rows: number, root: string }> {
  if (!useThreads(pool) || t.withoutRowid) return tableRoot(db, t, signal, onRows)
  const count = countRows(db, t)
  if (count < PARALLEL_MIN_ROWS) return tableRoot(db, t, signal, onRows)
  const rowid = t.rowidAlias
  // Chunk boundaries: the last rowid of every full chunk (OFFSET steps through rows inside SQLite).
  const boundary = db.prepare<[bigint], bigint>(`SELECT ${rowid} FROM ${canonicalSource(t)} WHERE ${rowid} > ? ORDER BY ${rowid} LIMIT 1 OFFSET ${CHUNK_ROWS - 1}`).safeIntegers(true).pluck()
  const firstBoundary = db.prepare<[], bigint>(`SELECT ${rowid} FROM ${canonicalSource(t)} ORDER BY ${rowid} LIMIT 1 OFFSET ${CHUNK_ROWS - 1}`).safeIntegers(true).pluck()
  const chunks: Array<{ after?: string, upto?: string }> = []
  let after: bigint | undefined
  for (;;) {
    const b = after === undefined ? firstBoundary.get() : boundary.get(after)
    chunks.push({ after: after?.toString(), upto: b?.toString() })
    if (b === undefined) break
    after = b
  }
  const replies = await Promise.all(chunks.map(async c => {
    const r = await pool.run({ kind: 'sql', path, table: t, ...c })
    if (!('nodes' in r)) throw new TypeError('the SQL chunk path answers with nodes')
    onRows?.(r.rows)
    return r
  }))
  throwIfAborted(signal)
  const tree = new MerkleBuilder()
  let rows = 0
  for (const r of replies) {
    for (const n of r.nodes) tree.pushSubtree(n.hash, n.size)
    rows += r.rows
  }
  return { rows, root: toHex(tree.root()) }
}

export function countRows (db: Db, t: UserTable): number {
  return db.prepare<[], number>(`SELECT count(*) FROM ${quoteIdent(t.name)}`).pluck().get() ?? 0
}

// A table of a few hundred rows in a small file is hashed through SQLite (the reference path, so
// the same root): generating and compiling the fast path's WebAssembly costs a process that has not
// done it yet more than such a table's rows (a 100-row `signimportblock`: ~90 fresh pages and ~4 M
// instructions; docs/performance/startup.md, "Session 8: start-up"). The file's size bounds what
// counting them costs.
// read.ts's FEW_ROWS is validation's own threshold of the same kind: both paths give one root.
const BUILD_VIA_SQLITE_MAX_ROWS = 256
const BUILD_VIA_SQLITE_MAX_FILE = 64 * 1024

/** computeManifest, with large tables hashed in `pool`'s threads; `onRows` counts the rows hashed. */
export async function computeManifestParallel (path: string, db: Db, tables: readonly UserTable[], pool: TableRootPool | undefined, signal?: AbortSignal, onRows?: OnRows): Promise<Manifest> {
  const entries = []
  const small = statSync(path).size <= BUILD_VIA_SQLITE_MAX_FILE
  for (const t of tables) {
    const r = small && countRows(db, t) <= BUILD_VIA_SQLITE_MAX_ROWS ? smallTableRoot(db, t, onRows) : await tableRootParallel(path, db, t, pool, signal, onRows)
    entries.push({ name: t.name, sql: t.sql, ...r })
  }
  return { tables: entries, rowsRoot: rowsRootOf(entries) }
}
