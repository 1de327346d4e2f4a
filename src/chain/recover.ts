import { existsSync } from 'node:fs'
import { cleanTmp, readJournal, removeBlock, removeJournal, sealPathOf, undoMoves } from '../storage/index.js'
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
export function recover (chain: Chain, log: UnsyncedLog = 'ask'): void {
  const { dir, index, logger } = chain
  const j = readJournal(dir)
  if (j !== undefined) {
    let keep = false
    if (index.byHash(j.commit) === undefined) {
      undoMoves(j.moves)
      logger.warn('rolled back an interrupted change', { block: j.commit, moves: j.moves.length })
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
    if (existsSync(stale) || existsSync(sealPathOf(stale))) {
      removeBlock(stale)
      logger.warn('removed a block file whose import did not complete', { height: tip.height + 1 })
    }
  }
  reconcileChainTree(chain)
  cleanTmp(dir)
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
