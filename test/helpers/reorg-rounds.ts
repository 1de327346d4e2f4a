import { cpSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, importBlock } from '../../src/chain/index.js'
import type { SigningKey } from '../../src/crypto/index.js'
import { signTipCheckpoints, storedChainTree, treeRoot } from '../../src/proof/index.js'
import { readSeal } from '../../src/storage/index.js'
import { toHex } from '../../src/util/index.js'
import { extendChain } from './chain.js'
import { tmpDir } from './tmp.js'

/**
 * A signatory's node that reorgs again and again: each round the node (`dir`) seals `depth`
 * blocks, signing its checkpoints at each tip as a signatory's node does, then a copy of it taken
 * before them seals `depth + 1` others, which the node takes: a reorg of `depth` blocks. Returns
 * the node's chain, open (the one given is closed: a copy is taken of a closed directory).
 */
export async function reorgRounds (a: Chain, dir: string, key: SigningKey, rounds: number, depth: number): Promise<Chain> {
  for (let r = 0; r < rounds; r++) {
    a.close()
    const other = join(tmpDir(), `rival${r}`)
    cpSync(dir, other, { recursive: true })
    a = Chain.open(dir)
    const b = Chain.open(other)
    for (let i = 0; i < depth; i++) {
      await extendChain(a, key, 1, 2)
      await signTipCheckpoints(a, key)
    }
    await extendChain(b, key, depth + 1, 3)
    const from = a.tip().height - depth + 1
    for (let h = from; h <= b.tip().height; h++) {
      const p = b.dir.blockPath(h)
      await importBlock(a, p, readSeal(p))
    }
    if (a.tip().hash !== b.tip().hash) throw new Error(`round ${r}: no reorg`)
    await signTipCheckpoints(a, key)
    b.close()
    rmSync(other, { recursive: true, force: true })
  }
  return a
}

/** The node's checkpoint rows: all, and those of another root than its chain tree's at their size. */
export function checkpointRows (a: Chain): { all: number, abandoned: number, abandonedFinal: number, side: number } {
  const tree = storedChainTree(a)
  const rows = a.index.checkpoints.list({ limit: 1e9 })
  const other = rows.filter(r => r.size > tree.size || r.root !== toHex(treeRoot(tree, r.size)))
  const final = other.filter(r => r.tip >= r.size - 1 + a.params.maxReorgDepth)
  return { all: rows.length, abandoned: other.length, abandonedFinal: final.length, side: a.index.sideBlocks().length }
}
