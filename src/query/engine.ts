import type { Chain } from '../chain/index.js'
import type { SkippedBlock } from './mirror/apply.js'
import { mirrorSkippedBlocks, QueryMirror, type MirrorStop, type MirrorSyncOptions, type MirrorSyncReport } from './mirror/mirror.js'
import { explainMirrorStop } from './mirror-stop.js'
import { QuerySandbox, type SandboxRun } from './sandbox/sandbox.js'
import type { ResultSummary } from './format/formatters.js'

export const DEFAULT_TIMEOUT_MS = 10_000

export interface QueryOptions extends Omit<SandboxRun, 'mode' | 'timeoutMs'> {
  /** Daisy's mode: run the statement in each block that has its tables. */
  perBlock?: boolean
  /** Time limit in ms (default 10 s; 0: none). */
  timeoutMs?: number
  /** Bring the mirror up to date first (default true; ignored in per-block mode). */
  sync?: boolean
  /** A long-lived mirror and sandbox to reuse (a node); by default both are opened and closed here. */
  mirror?: QueryMirror
  sandbox?: QuerySandbox
  onSyncProgress?: (p: { done: number, total: number }) => void
  /** Where the caller's own sync of the mirror stopped (with `sync: false`; a node's keeper). */
  mirrorStop?: MirrorStop
}

export interface QueryResult extends ResultSummary {
  sync?: MirrorSyncReport
  /** Canonical blocks the mirror leaves out (their rows are not in the result); empty per block. */
  skipped: SkippedBlock[]
}

/**
 * Run one read-only statement over the chain: bring the mirror up to date (its sandbox process
 * starts meanwhile), then run the statement in the sandbox, streaming its output to the callbacks.
 */
export async function runQuery (chain: Chain, o: QueryOptions): Promise<QueryResult> {
  const sandbox = o.sandbox ?? new QuerySandbox(chain.dir.root, { logger: chain.logger })
  try {
    sandbox.start()
    let sync: MirrorSyncReport | undefined
    if (o.perBlock !== true && o.sync !== false) {
      const mirror = o.mirror ?? QueryMirror.open(chain)
      try {
        // A reader never waits for a writer: if another process is updating query.db right now,
        // the statement reads the mirror as it is (sync.busy says so).
        sync = await mirror.sync({ signal: o.signal, onProgress: o.onSyncProgress, wait: false })
      } finally {
        if (o.mirror === undefined) mirror.close()
      }
    }
    let summary
    try {
      summary = await sandbox.run({ ...o, mode: o.perBlock === true ? 'per-block' : 'mirror', timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS })
    } catch (err) {
      // A table only in blocks above where the mirror stopped is not unknown (http35).
      throw o.perBlock === true ? err : explainMirrorStop(chain, err, sync?.stoppedAt ?? o.mirrorStop)
    }
    const skipped = o.perBlock === true ? [] : (summary.skipped ?? o.mirror?.skipped() ?? mirrorSkippedBlocks(chain.dir.queryDb))
    return { ...summary, sync, skipped }
  } finally {
    // Its process is reaped before this returns: a command never exits leaving it behind.
    if (o.sandbox === undefined) await sandbox.close()
  }
}

/**
 * Bring the query mirror of `chain` up to date (open, sync, close). For callers that import
 * blocks once in a while (CLI commands); a node keeps a QueryMirror open and calls sync() itself.
 */
export async function syncQueryMirror (chain: Chain, options: MirrorSyncOptions = {}): Promise<MirrorSyncReport> {
  const mirror = QueryMirror.open(chain)
  try {
    return await mirror.sync(options)
  } finally {
    mirror.close()
  }
}
