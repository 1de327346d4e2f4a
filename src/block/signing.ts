import { signV2, verifyV1, verifyV2, verifyV2Pair, verifyV2PairHex, type PublicKey, type SigningKey } from '../crypto/index.js'
import { fromHex, hexInto, toHex } from '../util/index.js'
import type { BlockHeader } from './header.js'
import type { KeyOp, KeyOpRow } from './keyops.js'

// v2 signed messages (docs/block-format.md "Signatures"). The domain tag keeps a signature made
// for one purpose from verifying for another; ChainId keeps it from verifying on another chain.
export function prevMessage (chainId: string, height: number, previousHash: string): string {
  return `petal/v2/prev\n${chainId}\n${height}\n${previousHash}`
}

export function sealMessage (chainId: string, height: number, blockHash: string, rowsRoot: string): string {
  return `petal/v2/seal\n${chainId}\n${height}\n${blockHash}\n${rowsRoot}`
}

export function keyOpMessage (chainId: string, op: KeyOp, keyId: string): string {
  return `petal/v2/keyop\n${chainId}\n${op}\n${keyId}`
}

function digestOf (hexHash: string): Uint8Array {
  return fromHex(hexHash) ?? new Uint8Array(0)
}

// A signature's bytes, decoded into one buffer per thread (two per block in plain verify): each
// verification reads them synchronously and keeps nothing. A DER P-256 signature is at most 72
// bytes; a longer hex string is decoded as before (and refused by the verifier).
// SEAL: the seal's, when both of a block's signatures are held at once (verifyPreviousAndSeal).
const SIG = new Uint8Array(80)
const SEAL = new Uint8Array(80)
function sig (hex: string, into = SIG): Uint8Array | undefined {
  const n = hexInto(hex, into)
  return n >= 0 ? into.subarray(0, n) : fromHex(hex)
}

export function signPrevious (key: SigningKey, chainId: string, height: number, previousHash: string): string {
  return toHex(signV2(key, prevMessage(chainId, height, previousHash)))
}

/** Check `_meta.PreviousBlockHashSignature` with the creator's key. */
export function verifyPrevious (pub: PublicKey, h: BlockHeader): boolean {
  const s = sig(h.previousHashSignature)
  if (s === undefined) return false
  return h.version === 1
    ? verifyV1(pub, digestOf(h.previousHash), s)
    : verifyV2(pub, prevMessage(h.chainId, h.height, h.previousHash), s)
}

export function signSeal (key: SigningKey, h: Pick<BlockHeader, 'chainId' | 'height' | 'rowsRoot'>, blockHash: string): string {
  return toHex(signV2(key, sealMessage(h.chainId, h.height, blockHash, h.rowsRoot)))
}

/** The header fields a seal signs (with the block hash). */
export type SealedFields = Pick<BlockHeader, 'version' | 'chainId' | 'height' | 'rowsRoot'>

/** Whether two headers agree on every field a seal signs (kept beside SealedFields: a new field must be compared too). */
export function sameSealedFields (a: SealedFields, b: SealedFields): boolean {
  return a.version === b.version && a.chainId === b.chainId && a.height === b.height && a.rowsRoot === b.rowsRoot
}

/** Check a block's detached seal (v1: Daisy's hash signature over the raw digest). */
export function verifySeal (pub: PublicKey, h: SealedFields, blockHash: string, sealHex: string): boolean {
  const s = sig(sealHex)
  if (s === undefined) return false
  return h.version === 1
    ? verifyV1(pub, digestOf(blockHash), s)
    : verifyV2(pub, sealMessage(h.chainId, h.height, blockHash, h.rowsRoot), s)
}

/**
 * verifyPrevious and verifySeal of one block, each verdict its own: a v2 block's two signatures
 * (one key) in one call (verifyV2Pair: one inverse for both s values once the key has a table).
 */
export function verifyPreviousAndSeal (pub: PublicKey, h: BlockHeader, blockHash: string, sealHex: string): { prev: boolean, seal: boolean } {
  // The common case in one native call, from the hex as held (verifyV2PairHex); -1: as below.
  const both = h.version === 1 ? -1 : verifyV2PairHex(pub, prevMessage(h.chainId, h.height, h.previousHash), h.previousHashSignature, sealMessage(h.chainId, h.height, blockHash, h.rowsRoot), sealHex)
  if (both >= 0) return { prev: (both & 1) !== 0, seal: (both & 2) !== 0 }
  const p = h.version === 1 ? undefined : sig(h.previousHashSignature)
  const s = p === undefined ? undefined : sig(sealHex, SEAL)
  if (p === undefined || s === undefined) return { prev: verifyPrevious(pub, h), seal: verifySeal(pub, h, blockHash, sealHex) }
  const v = verifyV2Pair(pub, prevMessage(h.chainId, h.height, h.previousHash), p, sealMessage(h.chainId, h.height, blockHash, h.rowsRoot), s)
  return { prev: (v & 1) !== 0, seal: (v & 2) !== 0 }
}

/** An endorsement by `signer` that `target` be added or revoked on chain `chainId`. */
export function signKeyOp (signer: SigningKey, chainId: string, op: KeyOp, target: PublicKey, metadata: Record<string, string> | null = null): KeyOpRow {
  return { op, keyId: target.id, publicKey: target, signer: signer.id, signature: toHex(signV2(signer, keyOpMessage(chainId, op, target.id))), metadata }
}

/** Check an endorsement with the endorser's key (v1: over the raw bytes of the key hash). */
export function verifyKeyOp (signerKey: PublicKey, chainId: string, row: KeyOpRow, version: 1 | 2): boolean {
  const s = sig(row.signature)
  if (s === undefined) return false
  return version === 1
    ? verifyV1(signerKey, digestOf(row.keyId.slice(2)), s)
    : verifyV2(signerKey, keyOpMessage(chainId, row.op, row.keyId), s)
}
