import type { Chain } from '../chain/index.js'
import type { SigningKey } from '../crypto/index.js'
import type { CheckpointRecord } from '../storage/index.js'
import { equalBytes, toHex } from '../util/index.js'
import { checkpointText, readCheckpointNote, signCheckpoint } from './checkpoint.js'
import { unionWithStored, verifiedNote, vouchesFor } from './note-lines.js'
import { missingNode, treeRoot, type NodeReader } from './tree/index.js'
import type { PetalCheckpoint } from './verifier/index.js'

// The node's side of checkpoints: the chain tree kept in chain.db (written by the chain module
// with the canonical chain itself), and the signed checkpoints kept beside it.

export type StoredTree = NodeReader & { readonly size: number }

/** The chain tree in chain.db, read as a proof node store: one query per proof. */
export function storedChainTree (chain: Chain): StoredTree {
  const tree = chain.index.tree
  return {
    get size () { return tree.size },
    readNodes: ids => {
      const hashes = tree.readNodes(ids)
      return ids.map((id, i) => {
        const h = hashes[i]
        if (h === undefined) throw missingNode(id, tree.size)
        return h
      })
    }
  }
}

export interface StoredCheckpoint extends CheckpointRecord {
  checkpoint: PetalCheckpoint
}

/**
 * Sign the checkpoints of the current chain tree with a signatory key and store them: the
 * latest (every canonical block, not final yet) and the final one (the blocks at least
 * max_reorg_depth below the tip), so that proofs can be made against either. Nothing when the
 * key is not an active signatory at the tip (its signature would convince no one), nor of a tree
 * older than the key (note-lines.ts, vouchesFor). Runs under the write lock, so the tree cannot
 * change between reading its root and storing the note.
 */
export async function signTipCheckpoints (chain: Chain, key: SigningKey, o: { signal?: AbortSignal } = {}): Promise<string[]> {
  return await chain.index.withWriteLock(async () => signTipCheckpointsLocked(chain, key), { signal: o.signal })
}

/**
 * signTipCheckpoints for a caller that holds the write lock already, inside its transaction
 * (signimportblock signs the tree its block extends in the commit that imports the block).
 */
export function signTipCheckpointsLocked (chain: Chain, key: SigningKey): string[] {
  const tip = chain.tip()
  const tree = storedChainTree(chain)
  if (tree.size !== tip.height + 1) return []
  const depth = chain.params.maxReorgDepth
  // Each (size, tip) once: a node that signs on every tick must not pile up equal notes.
  const sizes = tipCheckpointSizes(chain, key).filter(s => selfNotesOfTip(chain, s).length === 0)
  const now = chain.clock.now()
  const notes = sizes.map(size => {
    const root = treeRoot(tree, size)
    const text = checkpointText({ chainId: chain.chainId, size, root, tip: tip.height, maxReorgDepth: depth })
    const note = signCheckpoint(text, [key])
    // Kept with the lines stored of the same text (another signatory's at the same tip), one row.
    const kept = chain.index.checkpoints.ofText(size, text).length === 0 ? note : unionWithStored(chain, text, note).keep ?? note
    chain.index.checkpoints.keep({ size, root: toHex(root), tip: tip.height, note: kept, receivedAt: now, source: 'self' }, text, depth)
    return note
  })
  dropAbandonedLocked(chain)
  return notes
}

/** chain.db's meta: the tree size up to which dropAbandonedLocked has dropped abandoned notes. */
const SWEPT = 'checkpoints_abandoned_swept'

/**
 * Drop the notes of a branch a reorg abandoned once their tree is final here (docs/proofs.md,
 * "Notes of an abandoned branch"): of a size whose last block is at least max_reorg_depth below the
 * tip, a note over another root than this node's tree can never be used again (no proof, no
 * consistency proof, no witness reads it: the witness keeps what it cosigned in meta), since fork
 * choice never reorganises that deep. Until session 53 they were kept for good: a signatory's node
 * kept `d` more rows for each reorg of `d` blocks, where the side blocks themselves are pruned.
 * A note that claims to be final over another root is kept: it is a signatory's statement that
 * two histories were final, which is worth keeping. Each size is looked at once (a watermark in
 * meta), at most 1,000 sizes a call (a directory written earlier catches up over several calls).
 * Under the write lock, in the caller's transaction. The number of notes dropped.
 */
export function dropAbandonedLocked (chain: Chain): number {
  const depth = chain.params.maxReorgDepth
  const tree = storedChainTree(chain)
  const upTo = Math.min(chain.tip().height - depth + 1, tree.size)
  const after = Number(chain.index.getMeta(SWEPT) ?? '0')
  if (!(upTo > after)) return 0
  const trees = chain.index.checkpoints.treesBetween(after, upTo, 1000)
  let dropped = 0
  for (const size of new Set(trees.map(t => t.size))) {
    const root = toHex(treeRoot(tree, size))
    if (trees.some(t => t.size === size && t.root !== root)) dropped += chain.index.checkpoints.dropOtherRoots(size, root, depth)
  }
  chain.index.setMeta(SWEPT, String(trees.length === 1000 ? (trees.at(-1)?.size ?? upTo) - 1 : upTo))
  return dropped
}

/**
 * The checkpoint a proof of the block at `height` is made against: the largest stored one that
 * covers it and belongs to the current canonical chain (its root is the head of the chain tree at
 * its size; checkpoints of a branch a reorg abandoned are kept, never used). With `final`, only
 * one whose signer held every block in it final. With `size`, exactly that size; with `maxSize`, at most.
 */
export function findCheckpoint (chain: Chain, o: { height?: number, final?: boolean, size?: number, maxSize?: number } = {}): StoredCheckpoint | undefined {
  const tree = storedChainTree(chain)
  return chain.index.readTransaction(() => {
    const size = tree.size
    const min = o.size ?? (o.height ?? 0) + 1
    const max = Math.min(o.size ?? o.maxSize ?? size, size)
    for (let after = max; after >= min;) {
      const batch = chain.index.checkpoints.list({ minSize: min, maxSize: after, limit: 50 })
      for (const r of batch) {
        const { checkpoint } = readCheckpointNote(r.note)
        if (o.final === true && !checkpoint.final) continue
        if (!equalBytes(treeRoot(tree, r.size), checkpoint.root)) continue
        // Only the lines this node verifies now (note-lines.ts): a note kept before session 50
        // may hold a forged cosignature, and a witness struck from `witnesses` is vouched for no more.
        const v = verifiedNote(chain, r.note)
        if (v !== undefined && v.lines.some(l => l.name === checkpoint.origin)) return { ...r, note: v.note, checkpoint }
      }
      if (batch.length < 50) break
      after = (batch.at(-1)?.size ?? min) - 1
    }
    return undefined
  })
}

/**
 * The checkpoint sizes `key` signs for the tip: the latest tree and the final one (each once), of
 * those it vouches for (note-lines.ts, vouchesFor): none when it is no active signatory at the tip,
 * and not a tree older than its key (its final one, for max_reorg_depth blocks after it was added).
 */
function tipCheckpointSizes (chain: Chain, key: SigningKey): number[] {
  const tip = chain.tip()
  const signer = chain.keysAt(tip).get(key.id)
  if (signer === undefined || signer.revokedAt !== null) return []
  const size = tip.height + 1
  return [size, size - chain.params.maxReorgDepth].filter((s, i, all) => s >= 1 && all.indexOf(s) === i && vouchesFor(signer.addedAt, s))
}

/**
 * This node's own stored notes of size `size` for the current tip: of its height and of the chain
 * tree's root at that size. A reorg to a branch of the same height (the lower tip hash wins) left
 * notes of that height over the abandoned branch's root: until session 48 they stood for the new
 * tip's, which was then never signed (proofs failed PROOF_NO_CHECKPOINT until the tip moved), and
 * the node gossiped the abandoned root's notes, which every peer ignores.
 */
function selfNotesOfTip (chain: Chain, size: number): string[] {
  const tip = chain.tip().height
  const tree = storedChainTree(chain)
  if (size > tree.size) return []
  const root = toHex(treeRoot(tree, size))
  return chain.index.checkpoints.list({ minSize: size, maxSize: size }).filter(r => r.source === 'self' && r.tip === tip && r.root === root).map(r => r.note)
}

/**
 * The tip's checkpoints this node signed and stored earlier (signTipCheckpoints, or
 * `signimportblock` and `petal seal` in the commit of their block), for a node to gossip when it
 * signs none new, with the lines it verifies; none where `key` is no active signatory at the tip.
 */
export function storedTipCheckpoints (chain: Chain, key: SigningKey): string[] {
  // With the lines this node verifies now only (a witness struck since is kept, not passed on).
  return tipCheckpointSizes(chain, key).flatMap(size => selfNotesOfTip(chain, size)).map(n => verifiedNote(chain, n)?.note ?? '').filter(n => n !== '')
}

/**
 * What a node answers a peer's `checkpoints` request with (docs/protocol.md): the latest and the
 * latest final checkpoint of its current chain no larger than `maxSize` (the asker's tree), each
 * once, with the signature and cosignature lines this node verifies (findCheckpoint).
 */
export function servedCheckpoints (chain: Chain, maxSize: number): string[] {
  const latest = findCheckpoint(chain, { maxSize })
  if (latest === undefined) return []
  const final = latest.checkpoint.final ? undefined : findCheckpoint(chain, { maxSize, final: true })
  return [latest.note, ...(final === undefined ? [] : [final.note])]
}
