import type { Chain } from '../chain/index.js'
import type { SigningKey } from '../crypto/index.js'
import { equalBytes, errorCode, errorMessage, failpoint, shellWord, toHex } from '../util/index.js'
import { addCosignature, readCheckpointNote, witnessVkey } from './checkpoint.js'
import { noteLines, unionWithStored } from './note-lines.js'
import { formatNote, MAX_NOTE_SIGNATURES } from './verifier/index.js'
import { judgeCheckpoint } from './received.js'
import { OWN_WITNESS_META, witnessVkeySync } from './witness-keys.js'
import { findCheckpoint, storedChainTree } from './stored.js'
import { treeRoot } from './tree/index.js'
import { cosignedForCosigning, resetCommand, resetsForCosigning, retiredBy } from './witness-reset.js'
import { lastCosignedBy, setLastCosigned, sharedLastCosigned, upgradeSharedRecord } from './witness-last.js'
import { cosignedBy, recordCosigned, WITNESS_COSIGNED_FILE } from './witness-cosigned-file.js'

// A witness (docs/proofs.md "Witness cosignatures"): a node that holds no signatory key but
// vouches, with its own key, that each checkpoint it cosigns extends the last one it cosigned. It
// checks that against its own chain tree, which it derived by validating every block: a
// signatory that signed two different histories cannot get both cosigned by one witness.

export interface WitnessIdentity { name: string, key: SigningKey }

/**
 * Cosign a checkpoint if it is acceptable (judgeCheckpoint), final, larger than the last one this
 * witness cosigned, and consistent with it (its tree extends that one, on this node's own chain
 * tree); store the cosigned note and remember it. Returns the cosigned note, or undefined.
 */
export async function cosignCheckpoint (chain: Chain, note: string, w: WitnessIdentity): Promise<string | undefined> {
  return await chain.index.withWriteLock(async () => {
    if (judgeCheckpoint(chain, note) !== 'accept') return undefined
    // What it cosigns carries only lines it verified (note-lines.ts), with those it holds of the
    // same text: a forged line in what a peer sent must not travel on under its cosignature.
    const { note: n, checkpoint: c } = readCheckpointNote(note)
    const { v, keep } = unionWithStored(chain, n.text, note)
    // Final checkpoints only: a reorg may undo a non-final one, and a witness that had cosigned it
    // could never cosign the chain's new history. Final by the signer's tip line and at this
    // node's own tip: the tree is then one its own fork choice never leaves. Until session 54 the
    // signer's line alone: a witness behind cosigned on that claim, and when its chain then left
    // that tree (a signer that lied about its tip, a split deeper than max_reorg_depth) it refused
    // every later checkpoint for good (docs/performance/reviews.md, "Session 54: checkpoint and witness leftovers (checkpoint54)").
    if (v === undefined || !c.final || !finalHere(chain, c.size) || v.lines.some(s => s.name === w.name)) return undefined
    // A note holds at most MAX_NOTE_SIGNATURES lines: one more would be a note no reader parses.
    if (v.lines.length >= MAX_NOTE_SIGNATURES) return undefined
    // A key `petal witnesses reset` retired vouched for a tree this chain left: never again.
    // Recorded in chain.db and in witness-resets.json, which outlives chain.db (session 56).
    const resets = resetsForCosigning(chain)
    if (resets === undefined) return undefined
    const retired = retiredBy(resets, w.key.publicKey)
    if (retired !== undefined) {
      chain.logger.warn(`not cosigning: this witness key was retired by \`petal witnesses reset\` at ${retired.at}; run the witness with the key it named: \`petal --dir ${shellWord(chain.dir.root)} run --witness ${w.name} --key ${retired.next_key}\``, { key: w.key.id })
      return undefined
    }
    // The last tree this key cosigned, by its row in chain.db's meta and by witness-cosigned.json,
    // which outlives a chain.db rebuilt or put back from an older backup (session 56): it must
    // extend both. Each key its own (since session 57: one row shared by every key until then).
    const records = cosignedForCosigning(chain)
    if (records === undefined) return undefined
    const vkey = witnessVkeySync(w.name, w.key.publicKey)
    const hex = w.key.publicKey.hex
    upgradeSharedRecord(chain)
    const inDb = lastCosignedBy(chain, hex)
    const inFile = cosignedBy(records, w.key.publicKey)
    // An older Petal's shared row binds a key with no record of its own (witness-last.ts).
    const shared = inDb === undefined && inFile === undefined ? sharedLastCosigned(chain) : undefined
    // chain.db forgot it: written back, so that `petal witnesses reset` and `witnesses list` know
    // what this key cosigned.
    if (inFile !== undefined && (inDb === undefined || inFile.size > inDb.size)) setLastCosigned(chain, hex, inFile.size, inFile.root)
    const tree = storedChainTree(chain)
    for (const last of [inDb, inFile, shared]) {
      if (last === undefined) continue
      // Each size once, growing: older or equal trees were vouched for already.
      if (c.size <= last.size) return undefined
      // The tree it cosigned before must be a prefix of this one: this node's tree holds both.
      if (last.size > tree.size || !equalBytes(treeRoot(tree, last.size), last.root)) {
        // Its key vouched for that tree: it must not vouch for this chain's too. Clearing it is the
        // operator's decision, with a new key (docs/proofs.md, "A witness whose chain left what it cosigned").
        chain.logger.warn(`not cosigning: the chain no longer contains the last checkpoint this witness cosigned; to witness this chain, make a new key (\`petal --dir ${shellWord(chain.dir.root)} keygen\`) and run \`${resetCommand(chain.dir.root)}\`, then run the witness with --key NEWID`, { size: last.size, root: toHex(last.root) })
        return undefined
      }
    }
    // Recorded before the cosignature exists: a crash after this leaves a record of a tree this
    // chain holds that nobody saw cosigned (the key only refuses more), never a cosignature it forgot.
    try {
      recordCosigned(chain.dir.root, records, { key: w.key.publicKey.hex, vkey, size: c.size, root: toHex(c.root), at: new Date(chain.clock.now()).toISOString() })
    } catch (err) {
      chain.logger.warn(`not cosigning: what this witness cosigns could not be recorded in ${WITNESS_COSIGNED_FILE}, and a cosignature not recorded there could be forgotten with chain.db`, { error: errorMessage(err), code: errorCode(err) })
      return undefined
    }
    failpoint('witness:recorded')
    // Stored with the lines of witnesses not listed now (note-lines.ts); gossiped with the verified ones.
    const stored = addCosignature(keep ?? v.note, w, Math.floor(chain.clock.now() / 1000))
    const cosigned = formatNote({ text: v.text, signatures: [...v.lines, ...noteLines(stored).slice(-1)] })
    // Its own lines count as verified on this directory (knownWitnesses), for `petal prove` too.
    if (chain.index.getMeta(OWN_WITNESS_META) !== vkey) chain.index.setMeta(OWN_WITNESS_META, vkey)
    chain.index.checkpoints.keep({ size: c.size, root: toHex(c.root), tip: c.tip, note: stored, receivedAt: chain.clock.now(), source: 'witness' }, n.text, chain.params.maxReorgDepth)
    setLastCosigned(chain, hex, c.size, c.root)
    return cosigned
  })
}

/** Whether a tree of `size` is final at this node's own tip (fork choice never abandons its blocks). */
export function finalHere (chain: Chain, size: number): boolean {
  return size - 1 <= chain.tip().height - chain.params.maxReorgDepth
}

/**
 * What a witness may cosign now from its own store: the largest stored checkpoint of its chain that
 * is final at its tip (finalHere) and by its signer's tip line. A note it was sent while it was behind
 * (a tree not final here yet) is cosigned once its own chain has caught up (CheckpointDuty.synced).
 */
export function cosignableCheckpoint (chain: Chain): string | undefined {
  const maxSize = chain.tip().height - chain.params.maxReorgDepth + 1
  return maxSize < 1 ? undefined : findCheckpoint(chain, { final: true, maxSize })?.note
}

/** The verifier key of a witness (for `petal verify-proof --witness`). */
export async function witnessKeyOf (w: WitnessIdentity): Promise<string> {
  return await witnessVkey(w.name, w.key)
}
