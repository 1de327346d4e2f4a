import { existsSync } from 'node:fs'
import { cleanTmp, readJournal, removeBlock, removeJournal, sealPathOf, undoMoves } from '../storage/index.js'
import type { Chain } from './chain.js'
import { reconcileChainTree } from './chain-tree.js'

/**
 * Bring the data directory back to what the index says, after a crash: roll back the moves of a
 * journaled change whose index transaction never committed, remove a block file placed above the
 * tip whose commit never happened, and delete temporary files of dead processes. Runs under the
 * write lock, so no live writer can be mid-change. An index from before the chain tree gets its
 * tree. Constant cost when nothing crashed.
 */
export function recover (chain: Chain): void {
  const { dir, index, logger } = chain
  const j = readJournal(dir)
  if (j !== undefined) {
    if (index.byHash(j.commit) === undefined) {
      undoMoves(j.moves)
      logger.warn('rolled back an interrupted change', { block: j.commit, moves: j.moves.length })
    } else {
      // A group placed with synchronous=NORMAL may be committed but not yet durable (its process
      // died, or is still running, before it fsynced chain.db-wal): the journal is what undoes it
      // after a power cut, so it goes only once the commit is on disk.
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
