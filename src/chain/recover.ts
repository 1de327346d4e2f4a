import { existsSync } from 'node:fs'
import { basename } from 'node:path'
import { shellWord } from '../util/index.js'
import { sha256FileSync } from '../crypto/index.js'
import { cleanTmp, movesDone, readJournal, readTipRecord, removeBlock, removeJournal, sealPathOf, StorageError, TIP_RECORD_FILE, undoMoves, type Move } from '../storage/index.js'
import type { Chain } from './chain.js'
import { reconcileChainTree } from './chain-tree.js'

/**
 * Thrown by recover() inside the write transaction when a committed change's journal may be all
 * that undoes it and chain.db-wal is not known to be durable: the caller re-writes the log into
 * chain.db outside any transaction (IndexDb.rewriteWal: a checkpoint cannot run inside one) and
 * runs recover() again (recoverNow, writeTx).
 */
export class WalRewriteNeeded extends Error {
  constructor () { super('chain.db-wal must be re-written into chain.db before the journal goes') }
}

/** Re-writes a writer makes before it gives up (each emptied the log, and another process's write had filled it again by the next recovery). */
export const MAX_WAL_REWRITES = 3

/** How long a writer's re-write waits, on timers, for readers or another writer to let the log empty (without --wait): as long as its three 5 s busy waits did before session 38. */
export const WAL_REWRITE_WAIT_MS = 15_000

/**
 * What recover() does with a journal whose commit is in the index while chain.db-wal is not known
 * to be durable: ask for a re-write (WalRewriteNeeded), or leave the journal for the next writer.
 * Never an fsync of the -wal in its place (before session 39, a writer's fourth try).
 */
export type UnsyncedLog = 'ask' | 'leave'

/**
 * Bring the data directory back to what the index says, after a crash: roll back the moves of a
 * journaled change whose index transaction never committed, remove a block file placed above the
 * tip whose commit never happened, and delete temporary files of dead processes. Runs under the
 * write lock, so no live writer can be mid-change. An index from before the chain tree gets its
 * tree. Constant cost when nothing crashed. `log`: what to do when the journal's commit is not known
 * to be on disk (UnsyncedLog, below).
 */
export function recover (chain: Chain, log: UnsyncedLog = 'ask', byFiles = false): void {
  const { dir, index, logger } = chain
  const j = readJournal(dir)
  if (j !== undefined) {
    let keep = false
    if (index.byHash(j.commit) === undefined) {
      const judged = judges(chain, j.moves)
      if (byFiles && !judged && movesDone(j.moves)) {
        logger.warn('kept the files of an interrupted change: the index cannot tell whether it committed, and its files are all in place', { block: j.commit, moves: j.moves.length })
      } else if (!byFiles && !judged) {
        // An older index (a chain.db copied back) than the change: rolled back by any opener, a
        // committed group went back to tmp/ and was removed (review56). Left for reindex, which
        // judges by the files; writes are refused meanwhile (refuseIndexBehindFiles).
        keep = true
        logger.warn(`left the journal of an interrupted change this index cannot judge (its tip is below the change: a chain.db copied back?); \`petal --dir ${shellWord(dir.root)} reindex\` rebuilds the index from the files and judges it`, { block: j.commit, moves: j.moves.length })
      } else {
        undoMoves(j.moves)
        logger.warn('rolled back an interrupted change', { block: j.commit, moves: j.moves.length })
      }
    } else if (!index.walEmpty()) {
      // A group placed with synchronous=NORMAL is committed before its fsync of chain.db-wal: its
      // process died before it (or is still running it), or the fsync failed. The journal is what
      // undoes the group after a power cut, so it goes only once the commit is on disk; and an
      // fsync of the -wal retried after a failure proves nothing (fsyncgate: the pages it could
      // not write are marked clean). So the log is re-written into chain.db: WalRewriteNeeded.
      if (log === 'ask') throw new WalRewriteNeeded()
      keep = true
      logger.debug('left a journal whose commit is not yet known to be on disk to the next writer', { block: j.commit })
    }
    if (!keep) removeJournal(dir)
  }
  const tip = index.tip()
  // The derived state of a Daisy directory: the files above the tip are Daisy's own, never removed.
  if (tip !== undefined && dir.daisySource === undefined) {
    const stale = dir.blockPath(tip.height + 1)
    const behind = filesGoOnAbove(chain, tip.height)
    if (behind !== undefined) {
      // An import leaves one file above the tip (a group's are journaled, handled above): files
      // further up say this index is behind them (an older copy of chain.db), and the file at
      // tip + 1 was committed. Removed, by any opener and by the reindex that would rebuild it,
      // it became the gap that reindex then stopped at, BLOCK_FILE_MISSING (review55b).
      // Said to any opener; reindex, rebuilding it now, goes on.
      if (byFiles) logger.debug('the block files go on above the old index\'s tip', { tip: tip.height })
      else logger.warn(`${behind === 'files' ? 'the block files go on above this index\'s tip' : `the file of block ${tip.height + 1} is the block ${TIP_RECORD} records as committed, which this index does not hold`}: it is older than them (a chain.db copied back?); \`petal --dir ${shellWord(dir.root)} reindex\` rebuilds it from the files`, { tip: tip.height })
    } else if (existsSync(stale) || existsSync(sealPathOf(stale))) {
      removeBlock(stale)
      logger.warn('removed a block file whose import did not complete', { height: tip.height + 1 })
    }
  }
  reconcileChainTree(chain)
  cleanTmp(dir)
}

/**
 * Whether the block files go on above `tip` (recover): the index is older than them. So when files
 * go on above `tip` + 1 ('files'), or when chain.db's tip record (written after each commit that
 * moved the tip) names the block whose file is at `tip` + 1 ('record'): a commit this index does
 * not hold, so an older chain.db put back exactly one block behind, which an import cut short (its
 * record names `tip`) is not (session 56; review55b's left). Undefined when neither.
 */
function filesGoOnAbove (chain: Chain, tip: number): 'files' | 'record' | undefined {
  const above = chain.dir.blockPath(tip + 2)
  if (existsSync(above) || existsSync(sealPathOf(above))) return 'files'
  const r = readTipRecord(chain.dir.chainDb)
  if (r?.height !== tip + 1) return undefined
  try {
    return sha256FileSync(chain.dir.blockPath(tip + 1)) === r.hash && existsSync(sealPathOf(chain.dir.blockPath(tip + 1))) ? 'record' : undefined
  } catch {
    return undefined
  }
}

// How recovery's words name the tip record (storage/index-tip-record.ts).
const TIP_RECORD = TIP_RECORD_FILE

/**
 * A write that places a block, refused where the block files go on above the index's tip + 1 (an
 * older chain.db copied back: recover leaves those files, review55b): the file at tip + 1 is a
 * committed block, and the new block's placement replaced it, its successors then stood on a
 * block that is not their parent (review56). Reindex rebuilds the index from the files first.
 * Run after recover() (writeTx), or without it before a sync's download (syncer.ts).
 */
export function refuseIndexBehindFiles (chain: Chain): void {
  const tip = chain.index.tip()
  if (tip === undefined) return
  // A journal recovery leaves for reindex: its change not in this index, which cannot judge it
  // (recover, above). Any other is recovery's to settle, and the files above the tip are its own:
  // a group in flight, or cut short, met by the sync's check outside the write lock (review57).
  // Files above the tip of a Daisy directory's index are Daisy's own.
  const j = readJournal(chain.dir)
  const left = j !== undefined && chain.index.byHash(j.commit) === undefined && !judges(chain, j.moves)
  const behind = j !== undefined || chain.dir.daisySource !== undefined ? undefined : filesGoOnAbove(chain, tip.height)
  if (!left && behind === undefined) return
  // One block behind, the record's case: no file goes on above tip + 1 (it said so, review57).
  const why = behind === 'record' ? `the file of block ${tip.height + 1} is the block ${TIP_RECORD} records as committed, which it does not hold` : `block files go on above ${tip.height + 1}`
  throw new StorageError('INDEX_CORRUPT', left
    ? `the chain index ${chain.dir.chainDb} is older than an interrupted change of the block files (its tip is block ${tip.height}; journal.json's change lies above it: a chain.db copied back from a backup?)`
    : `the chain index ${chain.dir.chainDb} is older than the block files (its tip is block ${tip.height}, and ${why}: a chain.db copied back from a backup?): a block written now would replace block ${tip.height + 1}'s file`, {
    hint: `rebuild the index from the block files with \`petal --dir ${shellWord(chain.dir.root)} reindex\`, then run the command again`
  })
}

/**
 * Whether the index can tell that a journal's change did not commit (it does not hold `commit`):
 * it is the index the change was written to, or one like it. Not an empty one (a reindex's new
 * chain.db: a lost or unreadable one replaced), nor one whose tip is below every slot the moves
 * fill but the next (an older copy): rolled back by such an index, a group placed and committed went back to tmp/
 * (removed), a reorg back to the old branch (session 54's left). `byFiles` (reindex, which
 * rebuilds from the files) then keeps a change whose files are all in place (movesDone).
 */
function judges (chain: Chain, moves: readonly Move[]): boolean {
  const tip = chain.index.tip()
  if (tip === undefined) return false
  // A change made on this index's tip fills slots from tip + 1 up (a group) or below (a reorg).
  const slots = moves.flatMap(m => [slotHeight(chain, m.to), slotHeight(chain, m.from)]).filter(h => h !== undefined)
  return slots.length === 0 || Math.min(...slots) <= tip.height + 1
}

/** The height of the canonical slot `path` is, if it is one. */
function slotHeight (chain: Chain, path: string): number | undefined {
  const m = /^block_([0-9a-f]{8})\.db$/.exec(basename(path))
  if (m === null) return undefined
  const h = parseInt(m[1] as string, 16)
  return chain.dir.blockPath(h) === path ? h : undefined
}

/**
 * recover() now, under the write lock if it is free (false: a live writer holds it): the repair an
 * opener runs, on its event loop. When recover() asks for chain.db-wal to be re-written, one try
 * without SQLite's busy wait (which sleeps on the thread: up to 5 s a try, three tries, before
 * session 37); if readers or a writer keep the log from emptying, the journal stays for the next
 * writer (writeTx), and no fsync retried after a failure stands in for the re-write (fsyncgate).
 */
export function recoverNow (chain: Chain): boolean {
  try {
    return chain.index.tryWriteLockSync(() => { recover(chain, 'ask') })
  } catch (err) {
    if (!(err instanceof WalRewriteNeeded)) throw err
  }
  chain.index.rewriteWal(0)
  return chain.index.tryWriteLockSync(() => { recover(chain, 'leave') })
}
