import { sha256, signV2, type SigningKey } from '../crypto/index.js'
import { ProofError } from './errors.js'
import { treeRoot, type NodeReader } from './tree/index.js'
import {
  formatCheckpointText, formatNote, joinCosignature, keyIdOfDigest, parseNote, parsePetalCheckpoint, petalOrigin,
  cosignedMessage, signatoryKey, tipLine, witnessKey, witnessKeyIdInput, formatVkey, type PetalCheckpoint, type SignedNote
} from './verifier/index.js'

export interface CheckpointInput {
  chainId: string
  /** tree size: the checkpoint covers heights 0 … size − 1 */
  size: number
  root: Uint8Array
  /** the signer's canonical tip height */
  tip: number
  maxReorgDepth: number
}

/** The checkpoint note text (unsigned). */
export function checkpointText (c: CheckpointInput): string {
  if (c.size < 1 || c.tip < c.size - 1) throw new RangeError(`checkpoint of size ${c.size} with tip ${c.tip}: the tip must be at least the last height`)
  return formatCheckpointText({ origin: petalOrigin(c.chainId), size: c.size, root: c.root, extensions: [tipLine(c.tip, c.maxReorgDepth)] })
}

/** Key ID of a signatory in notes: SHA-256(SPKI DER)[:4] (C2SP ECDSA type 0x02). */
export function signatoryNoteKeyId (key: SigningKey): number {
  return keyIdOfDigest(sha256(key.publicKey.spki))
}

/**
 * Sign checkpoint text with signatory keys (C2SP signed note, ECDSA type 0x02, key name = origin).
 * Signatures already on `note` are kept.
 */
export function signCheckpoint (note: string | SignedNote, keys: readonly SigningKey[]): string {
  const n = typeof note === 'string' ? { text: note, signatures: [] } : note
  const c = parsePetalCheckpoint(n.text)
  if (typeof c === 'string') throw new ProofError('PROOF_CHECKPOINT_MISMATCH', `not a Petal checkpoint: ${c}`)
  const signatures = [...n.signatures]
  for (const key of keys) {
    signatures.push({ name: c.origin, keyId: signatoryNoteKeyId(key), signature: signV2(key, n.text) })
  }
  return formatNote({ text: n.text, signatures })
}

/**
 * Build and sign the checkpoint of the first `size` leaves of a chain tree (default: all of them).
 */
export function createCheckpoint (o: { chainId: string, tree: NodeReader & { size: number }, size?: number, tip: number, maxReorgDepth: number, keys: readonly SigningKey[] }): string {
  const size = o.size ?? o.tree.size
  return signCheckpoint(checkpointText({ chainId: o.chainId, size, root: treeRoot(o.tree, size), tip: o.tip, maxReorgDepth: o.maxReorgDepth }), o.keys)
}

/** Parse a signed Petal checkpoint note (the builder's input), or throw. */
export function readCheckpointNote (note: string): { note: SignedNote, checkpoint: PetalCheckpoint } {
  const n = parseNote(note)
  if ('error' in n) throw new ProofError('PROOF_CHECKPOINT_MISMATCH', `the checkpoint is not a signed note: ${n.error}`)
  const c = parsePetalCheckpoint(n.note.text)
  if (typeof c === 'string') throw new ProofError('PROOF_CHECKPOINT_MISMATCH', `not a Petal checkpoint: ${c}`)
  return { note: n.note, checkpoint: c }
}

/** A witness's timestamped P-256 cosignature, added to a checkpoint note (time in POSIX seconds). */
export function addCosignature (note: string, witness: { name: string, key: SigningKey }, time: number): string {
  const { note: n } = readCheckpointNote(note)
  const keyId = keyIdOfDigest(sha256(witnessKeyIdInput(witness.name, witness.key.publicKey.spki)))
  const der = signV2(witness.key, cosignedMessage(witness.name, BigInt(time), n.text))
  return formatNote({ text: n.text, signatures: [...n.signatures, { name: witness.name, keyId, signature: joinCosignature(time, der) }] })
}

/** The C2SP verifier key of a signatory on a chain: `petal/<chain>+<key ID>+<base64(0x02 ‖ SPKI)>`. */
export async function signatoryVkey (chainId: string, key: SigningKey): Promise<string> {
  return formatVkey(await signatoryKey(petalOrigin(chainId), key.publicKey.spki))
}

/** The verifier key of a witness: `<name>+<key ID>+<base64(0xff ‖ "petal/v2/cosignature" ‖ SPKI)>`. */
export async function witnessVkey (name: string, key: SigningKey): Promise<string> {
  return formatVkey(await witnessKey(name, key.publicKey.spki))
}
