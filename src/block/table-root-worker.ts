// Worker thread: hashes chunks of a table and returns the perfect subtrees they form, for the
// caller to fold into the table's root. Either from the file's pages (the fast path: a list of
// chunks — `pages` of a rowid table after skipping `skip` cells, `take` rows — that every thread
// of the pool is sent at once and takes from, one chunk at a time, through a shared counter) or
// through SQLite (the reference path: rows with after < rowid <= upto).
import { MerkleBuilder } from '../crypto/index.js'
import { serveWorker } from '../util/index.js'
import { BtreeUnsupported } from './btree.js'
import { fastChunkNodes, type FastPlan } from './fast-rows.js'
import { hashRows } from './manifest.js'
import type { UserTable } from './schema.js'
import { openBlockReadonly } from './sqlite.js'

/** Leaf pages `first` to `end` (exclusive) of the table's list, after skipping `skip` cells, `take` rows. */
export interface PageChunk { first: number, end: number, skip: number, take: number }
export type ChunkNodes = Array<{ hash: Uint8Array, size: number }>
/**
 * `pages`: the table's leaf pages in order (Uint32Array view), one copy shared by every thread.
 * `control` (16 bytes): an Int32 at 0, the next chunk to take (set to the chunk count to stop every
 * thread: a failure, an abort); a BigInt64 at 8, rows hashed so far (progress; a table may hold
 * more than 2^31 rows).
 */
export type ChunkRequest =
  | { kind: 'sql', path: string, table: UserTable, after?: string, upto?: string }
  | { kind: 'pages', path: string, plan: FastPlan, pages: SharedArrayBuffer, chunks: PageChunk[], control: SharedArrayBuffer }
/** `unsupported`: the fast path met something it does not read with certainty. */
export type ChunkReply = { rows: number, nodes: ChunkNodes } | { done: Array<{ index: number, rows: number, nodes: ChunkNodes }> } | { unsupported: string }

serveWorker<ChunkRequest, ChunkReply>(req => {
  if (req.kind === 'pages') {
    const control = new Int32Array(req.control, 0, 1)
    const rowsHashed = new BigInt64Array(req.control, 8, 1)
    const pages = new Uint32Array(req.pages)
    const done: Array<{ index: number, rows: number, nodes: ChunkNodes }> = []
    try {
      // Chunks are taken here, not handed out one per message: the caller's thread may be busy
      // (signimportblock runs quick_check on it meanwhile) and could not answer in between.
      for (let i = Atomics.add(control, 0, 1); i < req.chunks.length; i = Atomics.add(control, 0, 1)) {
        const c = req.chunks[i]
        if (c === undefined) break
        const r = fastChunkNodes(req.path, req.plan, Array.from(pages.subarray(c.first, c.end)), c.skip, c.take, 'wasm')
        done.push({ index: i, ...r })
        Atomics.add(rowsHashed, 0, BigInt(r.rows))
      }
      return { done }
    } catch (err) {
      Atomics.store(control, 0, req.chunks.length)
      if (err instanceof BtreeUnsupported) return { unsupported: err.message }
      throw err
    }
  }
  const db = openBlockReadonly(req.path)
  try {
    const tree = new MerkleBuilder()
    const rows = hashRows(db, req.table, tree, { after: req.after === undefined ? undefined : BigInt(req.after), upto: req.upto === undefined ? undefined : BigInt(req.upto) })
    return { rows, nodes: tree.nodes() }
  } finally {
    db.close()
  }
})
