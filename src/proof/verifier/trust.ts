// What a verifier trusts: signatory public keys (PEM as `petal keys export` writes it, hex SPKI as
// `petal mykeys` prints it, or C2SP verifier keys), witness keys, and checkpoints trusted earlier.
import { fromUtf8 } from './bytes.js'
import { parseVkey, type NoteKey } from './note-keys.js'
import { spkiFromText, spkisFromPem } from './p256.js'

export interface TrustedKey {
  spki: Uint8Array
  /** key name from a verifier key; PEM and hex keys sign under the checkpoint's origin */
  name?: string
}

export interface TrustAnchors {
  keys: TrustedKey[]
  /** witnesses whose cosignature is demanded */
  witnesses: NoteKey[]
  /** checkpoints (signed notes) trusted earlier: a proof must be consistent with each */
  checkpoints: string[]
}

export function emptyTrust (): TrustAnchors {
  return { keys: [], witnesses: [], checkpoints: [] }
}

/**
 * Read one trust file: PEM public keys, or a checkpoint (a signed note), or lines of hex SPKI keys
 * and signatory verifier keys. Returns what it holds, or why it is not a trust file.
 */
export async function parseTrustFile (content: Uint8Array | string): Promise<TrustAnchors | string> {
  const text = typeof content === 'string' ? content : fromUtf8(content)
  if (text === undefined) return 'the file is not UTF-8 text'
  const trust = emptyTrust()
  if (text.includes('-----BEGIN')) {
    const spkis = spkisFromPem(text)
    if (typeof spkis === 'string') return spkis
    if (spkis.length === 0) return 'the PEM file holds no PUBLIC KEY block (give the public key: `petal keys export` writes it)'
    trust.keys.push(...spkis.map(spki => ({ spki })))
    return trust
  }
  if (text.includes('\n\n\u2014 ')) {
    trust.checkpoints.push(text)
    return trust
  }
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\r$/, '').trim()
    if (line === '' || line.startsWith('#')) continue
    if (line.includes('+')) {
      const key = await parseVkey(line)
      if (typeof key === 'string') return `line ${i + 1}: ${key}`
      if (key.kind === 'witness') return `line ${i + 1}: a witness key; give it with --witness to demand its cosignature`
      trust.keys.push({ spki: key.spki, name: key.name })
      continue
    }
    const spki = spkiFromText(line)
    if (spki === undefined) return `line ${i + 1}: neither a P-256 public key (hex or base64 SPKI DER), a verifier key, a PEM file nor a checkpoint`
    trust.keys.push({ spki })
  }
  if (trust.keys.length === 0) return 'the file holds no key and no checkpoint'
  return trust
}

/** A witness key given on its own (`--witness`): a verifier key `name+keyid+key`. */
export async function parseWitnessKey (text: string): Promise<NoteKey | string> {
  const key = await parseVkey(text)
  if (typeof key === 'string') return key
  if (key.kind !== 'witness') return 'this is a signatory key (type 0x02); a witness key is a Petal cosignature key (type 0xff "petal/v2/cosignature")'
  return key
}

export function mergeTrust (...all: TrustAnchors[]): TrustAnchors {
  const t = emptyTrust()
  for (const a of all) {
    t.keys.push(...a.keys)
    t.witnesses.push(...a.witnesses)
    t.checkpoints.push(...a.checkpoints)
  }
  return t
}
