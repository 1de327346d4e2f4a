import { nextSealMs, readPendingSummary } from '../../ingest/pending-summary.js'
import { sealPolicyOf, type LiveNode } from '../../node/state-file.js'
import { hintWithDir, isPetalError } from '../../util/index.js'
import type { CliContext } from '../context.js'
import { formatBytes } from '../output.js'
import { formatDuration } from '../progress.js'

/**
 * The `status` extension for pending.db (user48): rows acknowledged and not yet in a block, their
 * size and the oldest one's age, and who seals them when (the running node's policy, from its
 * node-state.json). Read through ingest/pending-summary.ts alone, not the ingest service: status
 * must start fast (docs/performance.md, "Start-up of a command").
 */
export function pendingStatus (ctx: CliContext, node: LiveNode | undefined, stopped = false, inChain?: (hash: string) => boolean, recentFrom?: { height: number, depth: number }, nodeUnknown = false): { extra: Record<string, unknown>, lines: string[] } {
  let p
  try {
    p = readPendingSummary(ctx.dataDir.pendingDb, inChain, recentFrom)
  } catch (err) {
    // A damaged or unreadable pending.db is said here; the rest of status still answers.
    if (!isPetalError(err)) throw err
    // With its hint: a damaged pending.db holds acknowledged rows, and must be kept (review49).
    return {
      extra: { ingest: { error: { code: err.code, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }) } } },
      lines: [`pending     cannot read pending.db: ${err.message} [${err.code}]`, ...(err.hint === undefined ? [] : [`            ${err.hint}`])]
    }
  }
  const oldestMs = p.oldestAt === undefined ? undefined : Math.max(0, Date.now() - p.oldestAt)
  const sealing = node === undefined || node.pull === true || stopped ? undefined : sealPolicyOf(node)
  const next = sealing === undefined ? undefined : nextSealMs(sealing, { rows: p.rows, bytes: p.bytes, oldestMs })
  const extra = {
    ingest: {
      pending_rows: p.rows,
      pending_bytes: p.bytes,
      claimed_rows: p.claimedRows,
      oldest_pending_ms: oldestMs ?? null,
      seal_policy: sealing === undefined ? null : { every_ms: sealing.everyMs, rows: sealing.rows ?? null, bytes: sealing.bytes ?? null },
      next_seal_ms: next ?? null
    }
  }
  if (p.rows === 0) return { extra, lines: ['pending     none (rows appended and not yet sealed)'] }
  const head = `pending     ${p.rows} row(s), ${formatBytes(p.bytes)}${oldestMs === undefined ? '' : `, the oldest ${formatDuration(oldestMs / 1000)} old`}`
  let who: string
  if (stopped) {
    who = `the ${node?.pull === true ? 'pull' : 'node'} that holds this directory is stopped (above)${node?.role === 'signatory' && node.pull !== true ? ': it seals them once resumed' : ''}`
  } else if (sealing !== undefined) {
    const rule = [`once the oldest is ${formatDuration(sealing.everyMs / 1000)} old`, ...(sealing.rows === undefined ? [] : [`at ${sealing.rows} rows`]), ...(sealing.bytes === undefined ? [] : [`at ${formatBytes(sealing.bytes)}`])].join(', or ')
    const when = next === undefined || next === 0 ? 'now' : `in ${formatDuration(Math.max(1, next / 1000))}`
    who = `the node seals them ${when} (${rule}${node?.sync.state === 'syncing' ? '; not while it syncs' : ''})`
  } else if (node?.pull === true) {
    who = 'a pull holds this directory and seals nothing: once it has ended, seal them with `petal seal` (a signatory key)'
  } else if (node?.role === 'signatory') {
    who = 'the running node seals them (an older Petal\'s node, which does not publish its --seal-every, --seal-rows and --seal-bytes)'
  } else if (node !== undefined) {
    who = 'the node does not seal (no signing key loaded): seal them with `petal seal` (a signatory key)'
  } else if (nodeUnknown) {
    who = 'whether a node runs here, and seals them, cannot be told (above); if none does, seal them with `petal seal` (a signatory key)'
  } else {
    who = 'no node runs here: seal them with `petal seal` (a signatory key), or run a signatory node (`petal run`)'
  }
  // Rows a seal claimed: at work now, or killed part-way (its batch is taken again by the next seal).
  const claimed = p.claimedRows === 0 ? [] : [`            ${p.claimedRows} of them claimed by a seal that has not ended (a seal at work, or one stopped part-way, whose rows the next seal takes)`]
  return { extra, lines: [head, ...claimed, hintWithDir(`            ${who}`, ctx.opts.dir)] }
}
