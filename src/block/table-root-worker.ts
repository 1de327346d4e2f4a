// Worker thread: hashes one chunk of a rowid table (rows with after < rowid <= upto) and returns
// the perfect subtrees it forms, for the caller to fold into the table's root.
import { MerkleBuilder } from '../crypto/index.js'
import { serveWorker } from '../util/index.js'
import { hashRows } from './manifest.js'
import type { UserTable } from './schema.js'
import { openBlockReadonly } from './sqlite.js'

export interface ChunkRequest { path: string, table: UserTable, after?: string, upto?: string }
export interface ChunkReply { rows: number, nodes: Array<{ hash: Uint8Array, size: number }> }

serveWorker<ChunkRequest, ChunkReply>(req => {
  const db = openBlockReadonly(req.path)
  try {
    const tree = new MerkleBuilder()
    const rows = hashRows(db, req.table, tree, { after: req.after === undefined ? undefined : BigInt(req.after), upto: req.upto === undefined ? undefined : BigInt(req.upto) })
    return { rows, nodes: tree.nodes() }
  } finally {
    db.close()
  }
})
