// Worker thread: the chunk roots of one table of one block (table-chunks.ts), computed off the
// caller's event loop, so a node's HTTP API keeps answering while a large table is hashed.
import { openBlockReadonly, type UserTable } from '../block/index.js'
import { serveWorker } from '../util/index.js'
import { computeTableChunks, encodeTableChunks } from './table-chunks.js'

export interface ChunkJob { path: string, table: UserTable }

serveWorker<ChunkJob, Uint8Array>(job => {
  const db = openBlockReadonly(job.path)
  try {
    return encodeTableChunks(computeTableChunks(db, job.table))
  } finally {
    db.close()
  }
})
