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

/** Re-writes a writer tries before it falls back to an fsync of the -wal (readers or other writers kept the log from emptying). */
export const MAX_WAL_REWRITES = 3

/**
 * Bring the data directory back to what the index says, after a crash: roll back the moves of a
 * journaled change whose index transaction never committed, remove a block file placed above the
 * tip whose commit never happened, and delete temporary files of dead processes. Runs under the
 * write lock, so no live writer can be mid-change. An index from before the chain tree gets its
 * tree. Constant cost when nothing crashed. `lastTry`: no WalRewriteNeeded any more (see below).
 */
export function recover (chain: Chain, lastTry = false): void {
  const { dir, index, logger } = chain
  const j = readJournal(dir)
  if (j !== undefined) {
    if (index.byHash(j.commit) === undefined) {
      undoMoves(j.moves)
      logger.warn('rolled back an interrupted change', { block: j.commit, moves: j.moves.length })
    } else if (!index.walEmpty()) {
      // A group placed with synchronous=NORMAL is committed before its fsync of chain.db-wal: its
      // process died before it (or is still running it), or the fsync failed. The journal is what
      // undoes the group after a power cut, so it goes only once the commit is on disk; and an
      // fsync of the -wal retried after a failure proves nothing (fsyncgate: the pages it could
      // not write are marked clean). So the log is re-written into chain.db: WalRewriteNeeded.
      if (!lastTry) throw new WalRewriteNeeded()
      logger.warn('chain.db-wal could not be re-written into chain.db (readers or writers kept it busy): fsynced instead', { block: j.commit })
      index.syncWalNow()
    }
    removeJournal(dir)
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
 * recover() now, under the write lock if it is free (false: a live writer holds it), re-writing
 * chain.db-wal into chain.db first when recover() asks for it.
 */
export function recoverNow (chain: Chain): boolean {
  for (let tries = 0; ; tries++) {
    try {
      return chain.index.tryWriteLockSync(() => { recover(chain, tries >= MAX_WAL_REWRITES) })
    } catch (err) {
      if (!(err instanceof WalRewriteNeeded)) throw err
      chain.index.rewriteWal()
    }
  }
}
