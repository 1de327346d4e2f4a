import type { Chain } from '../chain/index.js'
import { sha256, verifyV2, type PublicKey } from '../crypto/index.js'
import { OWN_WITNESS_META, WITNESS_RESETS_META } from '../storage/index.js'
import { equalBytes, errorMessage, fromHex, hintOf, shellWord, toHex } from '../util/index.js'
import { ProofError } from './errors.js'
import { storedChainTree } from './stored.js'
import { treeRoot } from './tree/index.js'
import { cosignedMessage, keyIdOfDigest, parseNote, petalOrigin, witnessKeyIdInput } from './verifier/index.js'
import { parseWitnessVkey } from './witness-keys.js'
import { readCosignedFile, type CosignedTree } from './witness-cosigned-file.js'
import { deleteLastCosigned, lastCosignedRecords, sharedLastCosigned, upgradeSharedRecord, type LastRecord } from './witness-last.js'
import { readResetsFile, unionResets, WITNESS_RESETS_FILE, writeResetsFile, type WitnessReset } from './witness-resets-file.js'

// Clearing a stuck witness (docs/proofs.md, "A witness whose chain left what it cosigned"). A
// witness's cosignature says "consistent with every checkpoint of this chain I cosigned before";
// when its own chain no longer holds the last tree it cosigned (an earlier Petal cosigned on a
// signer's claim of finality, or a split deeper than max_reorg_depth), cosigning the chain's new
// history with the same key would make that key vouch for two histories, which is what witnesses
// exist to rule out. So the reset retires that key for good (every later cosignature is by a new
// key, which verifiers list by choice) and keeps a record of what the old key last stated.

/**
 * The trees witness keys cosigned that this node's chain no longer contains, for good: each key's
 * row in chain.db, each key's entry in witness-cosigned.json (of keys no reset retired), and an
 * older Petal's shared row. Only
 * once that size is final at this node's own tip, as when the witness refuses a checkpoint: a chain
 * still behind it, or on a branch fork choice may leave, may hold that tree again, and a reset then
 * would retire a key for nothing (review55b). Until session 57 chain.db's one shared row alone:
 * a key whose tree the chain had left was refused with the hint to reset, and the reset said
 * nothing was stuck when another key had cosigned since (PROOF_WITNESS_NOT_STUCK).
 */
export function stuckWitness (chain: Chain, file: readonly CosignedTree[] = readCosignedFile(chain.dir.root)): Array<{ key?: string, size: number, root: string }> {
  const tree = storedChainTree(chain)
  const out: Array<{ key?: string, size: number, root: string }> = []
  const all: LastRecord[] = [...lastCosignedRecords(chain), ...file.map(f => ({ key: f.key, size: f.size, root: fromHex(f.root) ?? new Uint8Array(0) }))]
  // A key a reset retired is stuck no more: its entry in witness-cosigned.json stays, and a second
  // reset retired it again and named yet another key (review57b).
  const retired = new Set(witnessResets(chain).map(r => r.retired_key))
  for (const last of all) {
    if (last.key !== undefined && retired.has(last.key)) continue
    if (!finalAtTip(chain, last.size)) continue
    if (last.size <= tree.size && equalBytes(treeRoot(tree, last.size), last.root)) continue
    const root = toHex(last.root)
    if (!out.some(o => o.key === last.key && o.size === last.size && o.root === root)) out.push({ ...(last.key === undefined ? {} : { key: last.key }), size: last.size, root })
  }
  return out
}

/** witness.ts's finalHere (not imported: witness.ts imports this file). */
const finalAtTip = (chain: Chain, size: number): boolean => size - 1 <= chain.tip().height - chain.params.maxReorgDepth

/**
 * Whether `key` made a cosignature line of one of `notes`, under any witness name. What names the
 * key that cosigned a tree the chain left where meta does not: a Petal before witness_vkey (session
 * 54) recorded none, and a key the operator rotated away from is named nowhere else (review55b).
 */
export function cosignedAny (notes: readonly string[], key: PublicKey): boolean {
  for (const note of notes) {
    const n = parseNote(note)
    if ('error' in n) continue
    for (const l of n.note.signatures) {
      const s = l.signature
      if (s.length < 9 || l.keyId !== keyIdOfDigest(sha256(witnessKeyIdInput(l.name, key.spki)))) continue
      const time = new DataView(s.buffer, s.byteOffset, 8).getBigUint64(0)
      if (time < 2n ** 63n && verifyV2(key, cosignedMessage(l.name, time, n.note.text), s.subarray(8))) return true
    }
  }
  return false
}

/**
 * The stored notes of trees this chain does not hold (an abandoned branch's final notes are kept)
 * that carry a cosignature (a line not by the chain's signatories): what a witness key stated of
 * a history this chain left.
 */
function notesOfLeftTrees (chain: Chain): string[] {
  const tree = storedChainTree(chain)
  const origin = petalOrigin(chain.chainId)
  const out: string[] = []
  for (let max = Number.MAX_SAFE_INTEGER; max >= 1;) {
    const batch = chain.index.checkpoints.list({ maxSize: max, limit: 100 })
    for (const r of batch) {
      if (r.size <= tree.size && toHex(treeRoot(tree, r.size)) === r.root) continue
      const n = parseNote(r.note)
      if (!('error' in n) && n.note.signatures.some(l => l.name !== origin)) out.push(r.note)
    }
    if (batch.length < 100) break
    max = (batch.at(-1)?.size ?? 1) - 1
  }
  return out
}

export type { WitnessReset } from './witness-resets-file.js'

/** The resets chain.db's meta records (kept by reindex, lost with chain.db). */
function metaResets (chain: Chain): WitnessReset[] {
  const v = chain.index.getMeta(WITNESS_RESETS_META)
  if (v === undefined) return []
  try {
    const a: unknown = JSON.parse(v)
    return Array.isArray(a) ? a as WitnessReset[] : []
  } catch {
    return []
  }
}

/**
 * The resets recorded on this directory, oldest first: chain.db's and witness-resets.json's (since
 * session 56), so that a chain.db rebuilt or put back from an older backup forgets none.
 * PROOF_WITNESS_RESETS_INVALID when that file cannot be read.
 */
export function witnessResets (chain: Chain): WitnessReset[] {
  return unionResets(readResetsFile(chain.dir.root), metaResets(chain))
}

/**
 * Write to witness-resets.json the resets only chain.db records (a reset by session 55's Petal),
 * so that they outlive chain.db; under the index's write lock. Returns every reset.
 */
export function keepResetsFile (chain: Chain): WitnessReset[] {
  const file = readResetsFile(chain.dir.root)
  const all = unionResets(file, metaResets(chain))
  if (all.length > file.length) writeResetsFile(chain.dir.root, all)
  return all
}

/**
 * Every reset, for a witness about to cosign (keepResetsFile), or undefined when witness-resets.json
 * cannot be read: which keys are retired is then unknown, and it cosigns nothing (logged with the
 * error's hint). A file it may not write is logged, and chain.db's record still counts.
 */
export function resetsForCosigning (chain: Chain): WitnessReset[] | undefined {
  try {
    return keepResetsFile(chain)
  } catch (err) {
    if (err instanceof ProofError && err.code === 'PROOF_WITNESS_RESETS_INVALID') {
      chain.logger.warn(`not cosigning: ${err.message}; ${hintOf(err) ?? ''}`)
      return undefined
    }
    chain.logger.warn(`the record of \`petal witnesses reset\` could not be written to ${WITNESS_RESETS_FILE}: it is kept in chain.db only`, { error: errorMessage(err) })
    return witnessResets(chain)
  }
}

/**
 * The last tree each witness key cosigned, by witness-cosigned.json, for a witness about to cosign,
 * or undefined when that file cannot be read: what its key cosigned is then unknown, and it
 * cosigns nothing (logged with the error's hint).
 */
export function cosignedForCosigning (chain: Chain): CosignedTree[] | undefined {
  try {
    return readCosignedFile(chain.dir.root)
  } catch (err) {
    chain.logger.warn(`not cosigning: ${errorMessage(err)}; ${(err instanceof ProofError ? hintOf(err) : undefined) ?? ''}`)
    return undefined
  }
}

/** The reset that retired `key` among `resets`, if one did: a witness never cosigns with it again. */
export function retiredBy (resets: readonly WitnessReset[], key: PublicKey): WitnessReset | undefined {
  // By its line in the notes kept too: a reset of a Petal that recorded no witness_vkey knew no key,
  // and a key the witness used before a rotation is named in none (review55b).
  return resets.find(r => r.retired_key === key.hex || cosignedAny(r.notes ?? [], key))
}

/** The command that clears a stuck witness, for its log line and docs (`dir`: the data directory). */
export function resetCommand (dir: string): string {
  return `petal --dir ${shellWord(dir)} witnesses reset --key NEWID`
}

/**
 * Clear a stuck witness: retire the key that cosigned the tree this chain left, record it, and let
 * `next` (another key) cosign this chain's final checkpoints from the next one on. Refused when the
 * chain still holds that tree (nothing is stuck: PROOF_WITNESS_NOT_STUCK) and when `next` is the
 * key that cosigned it (PROOF_WITNESS_SAME_KEY).
 */
export async function resetWitness (chain: Chain, next: PublicKey): Promise<WitnessReset[]> {
  return await chain.index.withWriteLock(async () => {
    const shared = upgradeSharedRecord(chain)
    const file = readCosignedFile(chain.dir.root)
    const stuck = stuckWitness(chain, file)
    if (stuck.length === 0) {
      const all = [...lastCosignedRecords(chain), ...file]
      const last = all.reduce<number | undefined>((m, r) => Math.max(m ?? 0, r.size), undefined)
      throw new ProofError('PROOF_WITNESS_NOT_STUCK', last === undefined
        ? 'this directory\'s witness has cosigned nothing: there is nothing to reset'
        : all.some(r => !finalAtTip(chain, r.size))
            ? `this chain's tip ${chain.tip().height} is within max_reorg_depth (${chain.params.maxReorgDepth}) of a checkpoint this witness cosigned (size ${last}): it may hold that tree again, so there is nothing to reset yet`
            : `this chain contains the last checkpoint each witness key here cosigned (up to size ${last}): there is nothing to reset`, {})
    }
    const ownVkey = chain.index.getMeta(OWN_WITNESS_META)
    // The key of each record the chain left: its row's or entry's; the shared row's is the key
    // witness_vkey names (upgradeSharedRecord), or unknown (a Petal before session 54).
    const keyOf = (s: { key?: string }): string | undefined => s.key ?? shared
    const vkeyOf = (key: string | undefined): string | null => {
      if (key === undefined) return ownVkey ?? null
      const fromFile = file.find(f => f.key === key)?.vkey
      const parsed = ownVkey === undefined ? undefined : parseWitnessVkey(ownVkey)
      return fromFile ?? (typeof parsed === 'object' && parsed.publicKey.hex === key ? ownVkey ?? null : null)
    }
    // The keys of those records, or any whose cosignature a stored note of a tree this chain left carries.
    const left = notesOfLeftTrees(chain)
    if (stuck.some(s => keyOf(s) === next.hex) || cosignedAny(left, next)) {
      throw new ProofError('PROOF_WITNESS_SAME_KEY', `key ${next.id} cosigned a checkpoint this chain left (size ${stuck.map(s => s.size).join(', ')}): it must not vouch for this chain's history too`, {})
    }
    const tip = chain.tip()
    const at = new Date(chain.clock.now()).toISOString()
    // One entry a key retired, each with its tree's notes; the first also with the other cosigned
    // notes of trees this chain left: each key whose line they carry cosigns no more here (retiredBy).
    const byKey = new Map<string | undefined, { size: number, root: string }>()
    for (const s of stuck) {
      const k = keyOf(s)
      const had = byKey.get(k)
      if (had === undefined || had.size < s.size) byKey.set(k, { size: s.size, root: s.root })
    }
    const resets: WitnessReset[] = []
    let rest = left
    for (const [key, abandoned] of byKey) {
      const own = chain.index.checkpoints.list({ minSize: abandoned.size, maxSize: abandoned.size }).filter(c => c.root === abandoned.root).map(c => c.note)
      resets.push({ at, abandoned, tip: { height: tip.height, hash: tip.hash }, retired: vkeyOf(key), retired_key: key ?? null, next_key: next.id, notes: [...own, ...rest.filter(n => !own.includes(n))] })
      rest = []
    }
    // The file first: a crash before chain.db's commit leaves the keys retired (the reset may be run
    // again: one reset, recorded twice), never a chain.db that knows it and a file that does not.
    writeResetsFile(chain.dir.root, [...unionResets(readResetsFile(chain.dir.root), metaResets(chain)), ...resets])
    chain.index.setMeta(WITNESS_RESETS_META, JSON.stringify([...metaResets(chain), ...resets]))
    for (const key of byKey.keys()) if (key !== undefined) deleteLastCosigned(chain, key)
    // The shared row goes with any reset that the chain left it or retired its key.
    if (sharedLastCosigned(chain) !== undefined && (byKey.has(undefined) || (shared !== undefined && byKey.has(shared)))) deleteLastCosigned(chain, undefined)
    for (const r of resets) chain.logger.info('witness reset by its operator: the key that cosigned a tree this chain left is retired', { size: r.abandoned.size, root: r.abandoned.root, retired: r.retired ?? 'unknown', next: next.id })
    return resets
  })
}
