// Worker thread that keeps the query mirror (query.db) of a running node up to date. Applying a
// block is synchronous SQLite work (seconds for a large block); here it cannot stall the node's
// event loop, where gossip, transfers and timeouts run.
import { Chain } from '../chain/index.js'
import { QueryMirror, type MirrorStop, type SkippedBlock } from '../query/index.js'
import { serveWorker } from '../util/index.js'

export interface MirrorRequest { dir: string }
export interface MirrorReply { applied: number, rolledBack: number, tip?: string, height?: number, stoppedAt?: MirrorStop, skipped: SkippedBlock[] }

let open: { chain: Chain, mirror: QueryMirror } | undefined

serveWorker<MirrorRequest, MirrorReply>(async req => {
  if (open === undefined) {
    const chain = Chain.open(req.dir)
    open = { chain, mirror: QueryMirror.open(chain) }
  }
  const r = await open.mirror.sync()
  return { applied: r.applied, rolledBack: r.rolledBack, tip: r.tip?.hash, height: r.tip?.height, stoppedAt: r.stoppedAt, skipped: r.skipped }
})
