import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { adoptedHistoryError, ADOPTED_HISTORY_DIR, ADOPTED_STATE_DIR, Chain, updateDaisyState } from '../chain/index.js'
import { DAISY_SOURCE_FILE, isDaisyDir } from '../storage/index.js'
import { QueryMirror, syncQueryMirror } from '../query/index.js'
import { isPetalError, pausepoint } from '../util/index.js'
import type { CliContext } from './context.js'
import { formatBytes } from './output.js'
import { hashPool } from './hashing.js'

const LARGE = 32 * 1024 * 1024

/**
 * After a command imported blocks, bring the query mirror up to date so the next query starts at
 * once. The import itself has succeeded by then: a mirror that cannot be updated now is only
 * reported (the next `petal query` catches up, or says why it cannot), and so is a Ctrl-C during
 * the update, which stops it: until session 52 it ended the command as "interrupted" (exit 130),
 * its result unprinted, though the block was committed (user52). Commands print their result
 * before calling this.
 */
export async function syncMirrorAfterImport (ctx: CliContext, chain: Chain, o: { progress?: boolean, bytes?: number } = {}): Promise<void> {
  // A large block is copied into the mirror by one SQLite statement, which reports nothing while
  // it runs (this SQLite build has no progress handler): say what the wait is for.
  if (o.bytes !== undefined && o.bytes >= LARGE) ctx.out.note(`updating the query mirror with ${formatBytes(o.bytes)} of new blocks, so that the next query starts at once…`)
  const bar = o.progress === true ? ctx.progress('query mirror', 'blocks') : undefined
  try {
    // Tests stop here to interrupt the update (e2e/mirror-interrupted.test.ts).
    await pausepoint('cli:mirror-sync', ctx.probe) // probe: an import makes no AbortController (import-node-calls.test.ts)
    // Closed with the context, after the command: a process that ends then leaves query.db-wal in
    // place instead of checkpointing it (storage's leaveConnectionsAtExit).
    const mirror = QueryMirror.open(chain)
    ctx.onClose(() => { mirror.close() })
    // The probe: the sync only reads it at its checks and sleeps (no AbortController made for that).
    const r = await mirror.sync({ signal: ctx.probe, onProgress: p => { bar?.update({ phase: 'updating', ...p }) } })
    bar?.end()
    const stop = r.stoppedAt
    if (stop !== undefined) ctx.logger.warn(stop.message, { code: stop.code, hint: stop.hint })
  } catch (err) {
    bar?.end()
    if (isPetalError(err) && err.code === 'ABORTED') {
      ctx.out.note('interrupted while updating the query mirror: what this command wrote is committed; the next query brings the mirror up to date')
      return
    }
    ctx.logger.warn('the query mirror was not updated; the next query will catch up', { error: err })
  }
}

/**
 * In a chain that continues a Daisy chain (adopt-daisy): bring the index and the query mirror of
 * its Daisy history (daisy/ → daisy-state/) up to date, so a query sees the old blocks with the
 * new. Cheap when they are: the history never changes after the adoption.
 */
export async function syncHistoryMirror (ctx: CliContext): Promise<void> {
  const state = join(ctx.dir, ADOPTED_STATE_DIR)
  const copy = join(ctx.dir, ADOPTED_HISTORY_DIR)
  // The state removed (the remedy INDEX_CORRUPT's hint gives for it, review31) is built again from
  // daisy/, which only adopt-daisy makes: before, every later query went without the history.
  if (!existsSync(join(state, DAISY_SOURCE_FILE)) && !isDaisyDir(copy)) return
  try {
    await updateDaisyState(copy, state, { logger: ctx.logger, hashPool: hashPool(ctx), signal: ctx.signal })
  } catch (err) {
    throw adoptedHistoryError(err, ctx.dir)
  }
  const history = Chain.open(state, { logger: ctx.logger })
  try {
    await syncQueryMirror(history, { signal: ctx.signal })
  } finally {
    history.close()
  }
}
