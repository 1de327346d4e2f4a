// How Petal's keys sign notes (docs/proofs.md "Checkpoints"):
// - a signatory signs a checkpoint with the C2SP ECDSA note type 0x02 (as transparency-dev/witness
//   and Sigstore's Rekor do): key ID = SHA-256(SPKI DER)[:4], signature = DER ECDSA P-256 over
//   SHA-256(note text);
// - a witness cosigns with a timestamped P-256 cosignature, type 0xff followed by the identifier
//   "petal/v2/cosignature" (C2SP reserves 0xff for types it does not assign).
import { concatBytes, fromBase64, toBase64, toHex, u64be, utf8 } from './bytes.js'
import { isValidKeyName, keyIdHex, keyIdOfDigest, type NoteSignature } from './note.js'
import { isP256Spki, verifyP256 } from './p256.js'
import { sha256 } from './sha256.js'

export const ECDSA_NOTE_TYPE = 0x02
export const COSIGNATURE_LABEL = 'petal/v2/cosignature'
const COSIGNATURE_TYPE = concatBytes(Uint8Array.of(0xff), utf8(COSIGNATURE_LABEL))

export interface NoteKey {
  kind: 'signatory' | 'witness'
  name: string
  keyId: number
  spki: Uint8Array
}

const signatoryIds = new Map<string, number>()

export async function signatoryKeyId (spki: Uint8Array): Promise<number> {
  const hex = toHex(spki)
  let id = signatoryIds.get(hex)
  if (id === undefined) {
    id = keyIdOfDigest(await sha256(spki))
    if (signatoryIds.size >= 256) signatoryIds.clear()
    signatoryIds.set(hex, id)
  }
  return id
}

/** What a witness key ID hashes: name ‖ 0x0A ‖ 0xff ‖ "petal/v2/cosignature" ‖ SPKI DER (C2SP's recommended form). */
export function witnessKeyIdInput (name: string, spki: Uint8Array): Uint8Array {
  return concatBytes(utf8(name), Uint8Array.of(0x0a), COSIGNATURE_TYPE, spki)
}

export async function witnessKeyId (name: string, spki: Uint8Array): Promise<number> {
  return keyIdOfDigest(await sha256(witnessKeyIdInput(name, spki)))
}

export async function signatoryKey (name: string, spki: Uint8Array): Promise<NoteKey> {
  return { kind: 'signatory', name, keyId: await signatoryKeyId(spki), spki }
}

export async function witnessKey (name: string, spki: Uint8Array): Promise<NoteKey> {
  return { kind: 'witness', name, keyId: await witnessKeyId(name, spki), spki }
}

/** The message a witness signs: header, its name, the time, then the whole checkpoint text. */
export function cosignedMessage (name: string, time: bigint, text: string): Uint8Array {
  return utf8(`${COSIGNATURE_LABEL}\nname ${name}\ntime ${time}\n${text}`)
}

export const MAX_COSIGNATURE_TIME = 2n ** 63n - 1n

/** Split a cosignature into its timestamp and DER signature. */
export function splitCosignature (sig: Uint8Array): { time: bigint, der: Uint8Array } | undefined {
  if (sig.length < 9) return undefined
  const time = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0)
  if (time > MAX_COSIGNATURE_TIME) return undefined
  return { time, der: sig.subarray(8) }
}

export function joinCosignature (time: number, der: Uint8Array): Uint8Array {
  return concatBytes(u64be(time), der)
}

/** Verify one signature line with a key whose name and key ID it matches. */
export async function verifyNoteSignature (key: NoteKey, text: string, sig: NoteSignature): Promise<{ ok: boolean, time?: bigint }> {
  if (key.kind === 'signatory') return { ok: await verifyP256(key.spki, utf8(text), sig.signature, { lowS: false }) }
  const parts = splitCosignature(sig.signature)
  if (parts === undefined) return { ok: false }
  return { ok: await verifyP256(key.spki, cosignedMessage(key.name, parts.time, text), parts.der, { lowS: true }), time: parts.time }
}

/** C2SP verifier key text: `<name>+<hex key ID>+<base64(type ‖ public key)>`. */
export function formatVkey (key: NoteKey): string {
  const type = key.kind === 'signatory' ? Uint8Array.of(ECDSA_NOTE_TYPE) : COSIGNATURE_TYPE
  return `${key.name}+${keyIdHex(key.keyId)}+${toBase64(concatBytes(type, key.spki))}`
}

/** Parse a verifier key of either Petal kind; the key ID must match the key. */
export async function parseVkey (text: string): Promise<NoteKey | string> {
  // Name and key ID cannot hold '+'; base64 can.
  const t = text.trim()
  const first = t.indexOf('+')
  const second = t.indexOf('+', first + 1)
  if (first < 0 || second < 0) return 'a verifier key has three parts: name+keyid+key'
  const [name, idHex, b64] = [t.slice(0, first), t.slice(first + 1, second), t.slice(second + 1)]
  if (!isValidKeyName(name)) return `invalid key name ${JSON.stringify(name)}`
  if (!/^[0-9a-f]{8}$/.test(idHex)) return 'the key ID of a verifier key is 8 lower-case hex digits'
  const bytes = fromBase64(b64)
  if (bytes === undefined || bytes.length === 0) return 'the key part of a verifier key is not canonical base64'
  let key: NoteKey
  if (bytes[0] === ECDSA_NOTE_TYPE) {
    key = await signatoryKey(name, bytes.subarray(1))
  } else if (bytes.length > COSIGNATURE_TYPE.length && COSIGNATURE_TYPE.every((b, i) => bytes[i] === b)) {
    key = await witnessKey(name, bytes.subarray(COSIGNATURE_TYPE.length))
  } else {
    return `unsupported verifier key type 0x${(bytes[0] as number).toString(16).padStart(2, '0')} (Petal verifies ECDSA P-256 signatures, type 0x02, and Petal cosignatures, 0xff "${COSIGNATURE_LABEL}")`
  }
  if (!isP256Spki(key.spki)) return 'the verifier key is not a P-256 key in canonical SPKI form'
  if (keyIdHex(key.keyId) !== idHex) return `the key ID ${idHex} does not match the key (expected ${keyIdHex(key.keyId)})`
  return key
}
