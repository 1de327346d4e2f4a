// Worker thread: hashes one chunk of a table and returns the perfect subtrees it forms, for the
// caller to fold into the table's root. Either from the file's pages (the fast path: `leaves` of a
// rowid table after skipping `skip` cells, `take` rows) or through SQLite (the reference path: rows
// with after < rowid <= upto).
import { MerkleBuilder } from '../crypto/index.js'
import { serveWorker } from '../util/index.js'
import { BtreeUnsupported } from './btree.js'
import { fastChunkNodes, type FastPlan } from './fast-rows.js'
import { hashRows } from './manifest.js'
import type { UserTable } from './schema.js'
import { openBlockReadonly } from './sqlite.js'

export type ChunkRequest =
  | { kind: 'sql', path: string, table: UserTable, after?: string, upto?: string }
  | { kind: 'pages', path: string, plan: FastPlan, pages: number[], skip: number, take: number }
/** `unsupported`: the fast path met something it does not read with certainty. */
export type ChunkReply = { rows: number, nodes: Array<{ hash: Uint8Array, size: number }> } | { unsupported: string }

serveWorker<ChunkRequest, ChunkReply>(req => {
  if (req.kind === 'pages') {
    try {
      return fastChunkNodes(req.path, req.plan, req.pages, req.skip, req.take, 'wasm')
    } catch (err) {
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
