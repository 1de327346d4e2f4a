import { hashRows, quoteIdent, type Db, type UserTable } from '../block/index.js'
import { MerkleBuilder } from '../crypto/index.js'
import { WorkerPool, workerScript } from '../util/index.js'
import type { ChunkJob } from './chunk-worker.js'
import { MemoryNodeStore, missingNode, type NodeId, type NodeReader } from './tree/index.js'

// Fast row proofs (docs/proofs.md "Building proofs fast"): a rowid table's leaves are cut into
// aligned chunks of 2^8 rows, each a perfect subtree of the table's RFC 6962 tree. With every
// chunk's root and the rowid that ends it kept, a proof of one row hashes only its own chunk
// (≤ 256 rows) and reads the levels above from the chunk roots' tree, built once per table and
// kept with them, instead of hashing the whole table.

export const CHUNK_LEVEL = 8
export const CHUNK_ROWS = 1 << CHUNK_LEVEL

/** What a table's proofs need besides its own chunk: derived from the immutable block, cacheable forever. */
export interface TableChunks {
  rows: number
  /** the last rowid of every full chunk, ascending */
  ends: bigint[]
  /** the root of every full chunk */
  roots: Uint8Array[]
  /** the perfect nodes of the last, partial chunk (global ids), if any */
  tail: Array<{ level: number, index: number, hash: Uint8Array }>
  /** memo, not stored: the tree over `roots` (levels ≥ CHUNK_LEVEL) and `tail` by id */
  memo?: { upper: MemoryNodeStore, tail: Map<string, Uint8Array> }
}

/** One pass over the table: hash every row once, keeping chunk roots; then find the chunk ends. */
export function computeTableChunks (db: Db, t: UserTable, signal?: AbortSignal): TableChunks {
  const roots: Uint8Array[] = []
  let chunk = new MerkleBuilder()
  const rows = hashRows(db, t, {
    push: leaf => {
      chunk.push(leaf)
      if (chunk.size === CHUNK_ROWS) { roots.push(chunk.root()); chunk = new MerkleBuilder() }
    }
  }, {}, signal)
  const tail: TableChunks['tail'] = []
  let pos = roots.length * CHUNK_ROWS
  for (const n of chunk.nodes()) {
    tail.push({ level: Math.log2(n.size), index: pos / n.size, hash: n.hash })
    pos += n.size
  }
  const rowid = t.rowidAlias ?? 'rowid'
  const name = quoteIdent(t.name)
  const first = db.prepare<[], bigint>(`SELECT ${rowid} FROM ${name} ORDER BY ${rowid} LIMIT 1 OFFSET ${CHUNK_ROWS - 1}`).safeIntegers(true).pluck()
  const next = db.prepare<[bigint], bigint>(`SELECT ${rowid} FROM ${name} WHERE ${rowid} > ? ORDER BY ${rowid} LIMIT 1 OFFSET ${CHUNK_ROWS - 1}`).safeIntegers(true).pluck()
  const ends: bigint[] = []
  for (let e = first.get(); e !== undefined && ends.length < roots.length; e = next.get(e)) ends.push(e)
  return { rows, ends, roots, tail }
}

/** The chunk holding `rowid`: the first whose end is ≥ rowid (the partial last chunk when none is). */
export function chunkOf (c: TableChunks, rowid: bigint): number {
  let lo = 0
  let hi = c.ends.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((c.ends[mid] as bigint) < rowid) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * The table tree's node reader for proofs of rows in chunk `k`: nodes inside chunk k from its own
 * leaves, the partial chunk's from `tail`, and every node at the chunk level or above folded from
 * the chunk roots.
 */
export function chunkedReader (c: TableChunks, k: number, leaves: readonly Uint8Array[]): NodeReader {
  const inChunk = new MemoryNodeStore()
  for (const l of leaves) inChunk.append(l)
  if (c.memo === undefined) {
    const tree = new MemoryNodeStore()
    for (const r of c.roots) tree.append(r)
    c.memo = { upper: tree, tail: new Map(c.tail.map(n => [`${n.level}/${n.index}`, n.hash])) }
  }
  const { upper, tail } = c.memo
  const read = (id: NodeId): Uint8Array => {
    if (id.level >= CHUNK_LEVEL) return upper.readNodes([{ level: id.level - CHUNK_LEVEL, index: id.index }])[0] as Uint8Array
    const per = CHUNK_ROWS >> id.level
    if (Math.floor(id.index / per) === k) return inChunk.readNodes([{ level: id.level, index: id.index - k * per }])[0] as Uint8Array
    const h = tail.get(`${id.level}/${id.index}`)
    if (h === undefined) throw missingNode(id, c.rows)
    return h
  }
  return { readNodes: ids => ids.map(read) }
}

/** The rowid range (after, upto] of chunk k. */
export function chunkRange (c: TableChunks, k: number): { after?: bigint, upto?: bigint } {
  return { after: k === 0 ? undefined : c.ends[k - 1], upto: c.ends[k] }
}

/** Serialised for a cache: ends, roots and tail in one buffer. */
export function encodeTableChunks (c: TableChunks): Buffer {
  const head = Buffer.from(JSON.stringify({ rows: c.rows, ends: c.ends.map(String), tail: c.tail.map(n => [n.level, n.index]) }))
  const len = Buffer.alloc(4)
  len.writeUInt32BE(head.length)
  return Buffer.concat([len, head, ...c.roots, ...c.tail.map(n => n.hash)])
}

export function decodeTableChunks (b: Uint8Array): TableChunks | undefined {
  try {
    const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
    const n = buf.readUInt32BE(0)
    const head: unknown = JSON.parse(buf.subarray(4, 4 + n).toString('utf8'))
    if (typeof head !== 'object' || head === null || !('rows' in head) || !('ends' in head) || !('tail' in head)) return undefined
    const { rows, ends, tail } = head
    if (typeof rows !== 'number' || !Array.isArray(ends) || !Array.isArray(tail)) return undefined
    const hashes = buf.subarray(4 + n)
    if (hashes.length !== 32 * (ends.length + tail.length)) return undefined
    const at = (i: number): Uint8Array => new Uint8Array(hashes.subarray(32 * i, 32 * i + 32))
    return {
      rows,
      ends: ends.map(e => BigInt(String(e))),
      roots: ends.map((_, i) => at(i)),
      tail: tail.map((t: unknown, i) => {
        if (!Array.isArray(t) || typeof t[0] !== 'number' || typeof t[1] !== 'number') throw new TypeError('bad tail')
        return { level: t[0], index: t[1], hash: at(ends.length + i) }
      })
    }
  } catch {
    return undefined
  }
}

/**
 * The thread that computes chunk roots off the caller's event loop (one: the first proof of a
 * large table is rare), so a node's HTTP API keeps answering meanwhile. A resource of the
 * composition root (the node, or the CLI command's context), which closes it on stop; the thread
 * starts on first use.
 */
export class ChunkPool {
  private pool: WorkerPool<ChunkJob, Uint8Array> | undefined

  /** computeTableChunks of `table` in the block file at `path`, in the worker thread. */
  async compute (path: string, table: UserTable): Promise<TableChunks | undefined> {
    this.pool ??= new WorkerPool<ChunkJob, Uint8Array>(workerScript(import.meta.url, './chunk-worker.js'), 1)
    return decodeTableChunks(await this.pool.run({ path, table }))
  }

  /** Threads running now (0 before first use and after close). */
  get alive (): number { return this.pool?.alive ?? 0 }

  async close (): Promise<void> {
    const pool = this.pool
    this.pool = undefined
    await pool?.close()
  }
}
