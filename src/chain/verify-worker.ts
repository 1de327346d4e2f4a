// Worker thread for verify and reindex: hashes a block file and runs the structural checks, the
// per-file work that can go in parallel. Chain-context checks stay on the main thread, in order.
import { readBlockFile, type BlockFile } from '../block/index.js'
import { sha256FileSync } from '../crypto/index.js'
import { serveWorker } from '../util/index.js'

export interface ReadRequest { path: string, maxBytes: number, deep: boolean }
export interface ReadReply { hash: string, file: BlockFile }

serveWorker<ReadRequest, ReadReply>(async req => {
  const hash = sha256FileSync(req.path)
  const file = await readBlockFile(req.path, { maxBytes: req.maxBytes, quickCheck: req.deep, checkManifest: req.deep })
  return { hash, file }
})
