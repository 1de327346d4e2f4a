import type { Chain } from '../chain/index.js'
import { verifyV2 } from '../crypto/index.js'
import { equalBytes, fromHex, toHex } from '../util/index.js'
import { unionWithStored, verifiedNote, vouchesFor } from './note-lines.js'
import { dropAbandonedLocked, storedChainTree } from './stored.js'
import { treeRoot } from './tree/index.js'
import { keyIdOfDigest, parseNote, parsePetalCheckpoint } from './verifier/index.js'

// Checkpoints from peers (gossip): a node keeps one when an active signatory of its chain signed
// it and its root is the head of the node's own chain tree at its size — what the node would sign
// itself if it held a signatory key. Then it can prove rows against it without signing anything.

export type CheckpointVerdict = 'accept' | 'ignore' | 'reject'

/**
 * Judge a checkpoint note from a peer, fast (one signature check per signatory line, one tree
 * query): reject what is malformed, of another chain or carries a bad signature by a signatory
 * (the peer forwarded garbage); ignore what cannot be checked here yet (unknown key, a tree larger
 * than ours, another branch); accept the rest.
 */
export function judgeCheckpoint (chain: Chain, note: string): CheckpointVerdict {
  const n = parseNote(note)
  if ('error' in n) return 'reject'
  const c = parsePetalCheckpoint(n.note.text)
  if (typeof c === 'string' || c.chainId !== chain.chainId) return 'reject'
  const signers = chain.keysAt(chain.tip()).active()
  let signed = false
  for (const s of n.note.signatures) {
    if (s.name !== c.origin) continue
    const signer = signers.find(k => keyIdOfDigest(fromHex(k.keyId.slice(2)) ?? new Uint8Array(4)) === s.keyId)
    if (signer === undefined) continue
    if (!verifyV2(signer.publicKey, n.note.text, s.signature)) return 'reject'
    // A key added above the tree does not vouch for it (docs/proofs.md, "Which signatories vouch for a checkpoint").
    if (vouchesFor(signer.addedAt, c.size)) signed = true
  }
  if (!signed) return 'ignore'
  const tree = storedChainTree(chain)
  if (c.size > tree.size || !equalBytes(treeRoot(tree, c.size), c.root)) return 'ignore'
  return 'accept'
}

/**
 * Judge a note a peer answered a `checkpoints` request with: as gossip judges one (judgeCheckpoint),
 * except that a tree larger than `maxSize`, the size asked for, is `unasked`: the peer broke the
 * request (an honest one answers only what was asked), where a gossiped one is merely ignored.
 */
export function judgeAnsweredCheckpoint (chain: Chain, note: string, maxSize: number): CheckpointVerdict | 'unasked' {
  const n = parseNote(note)
  const c = 'error' in n ? undefined : parsePetalCheckpoint(n.note.text)
  if (c !== undefined && typeof c !== 'string' && c.chainId === chain.chainId && c.size > maxSize) return 'unasked'
  return judgeCheckpoint(chain, note)
}

/**
 * Judge a gossiped note as judgeCheckpoint does, and give the lines of it this node verified
 * (note-lines.ts) when it accepts it: what it passes on (docs/proofs.md, "Which cosignatures a
 * node keeps"). One pass, each line verified once (and its verdict kept for the note's keeping).
 */
export function judgeGossipedCheckpoint (chain: Chain, note: string): { verdict: CheckpointVerdict, verified?: string } {
  const v = verifiedNote(chain, note)
  if (v === undefined || v.badSignatory) return { verdict: 'reject' }
  if (!v.signed) return { verdict: 'ignore' }
  const tree = storedChainTree(chain)
  if (v.checkpoint.size > tree.size || !equalBytes(treeRoot(tree, v.checkpoint.size), v.checkpoint.root)) return { verdict: 'ignore' }
  return { verdict: 'accept', verified: v.note }
}

/**
 * Keep a checkpoint from a peer if it is still acceptable (under the write lock); true when stored.
 * What is kept is the lines this node verified (note-lines.ts), added to those it holds already of
 * the same checkpoint text: a line it cannot verify is dropped, so a forged cosignature can neither
 * be kept nor take the place of a real one, and a note that adds no verified line stores nothing.
 */
export async function keepReceivedCheckpoint (chain: Chain, note: string, from: string): Promise<boolean> {
  const v = verifiedNote(chain, note)
  if (v === undefined || !v.signed) return false
  if (v.badWitness.length > 0) chain.logger.warn('dropped a cosignature that does not verify with the witness\'s key (forged or damaged)', { witnesses: v.badWitness, from })
  // What the peer sent is remembered even when it adds nothing here (PROOF_NO_CHECKPOINT's hint).
  const source = `peer ${from}`
  const sentMore = v.checkpoint.size - 1 > (chain.index.checkpoints.sentNoted(source) ?? -1)
  if (!sentMore && !unionWithStored(chain, v.text, note).adds) return false
  return await chain.index.withWriteLock(async () => {
    if (judgeCheckpoint(chain, note) !== 'accept') return false
    chain.index.checkpoints.sentBy(source, v.checkpoint.size)
    const { v: merged, keep, adds } = unionWithStored(chain, v.text, note)
    if (merged === undefined || keep === undefined || !adds) return false
    const c = merged.checkpoint
    const kept = chain.index.checkpoints.keep({ size: c.size, root: toHex(c.root), tip: c.tip, note: keep, receivedAt: chain.clock.now(), source }, merged.text, chain.params.maxReorgDepth)
    // A follower's notes of a branch it left go as a signatory's do (stored.ts).
    if (kept) dropAbandonedLocked(chain)
    return kept
  })
}
