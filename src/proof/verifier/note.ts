// C2SP signed notes (c2sp.org/signed-note): text, a blank line, then signature lines
// "— <key name> base64(key ID ‖ signature)". Parsing is strict; signatures are kept as they are,
// known or not, so that a note passed on keeps every cosignature.
import { concatBytes, fromBase64, toBase64, u32be } from './bytes.js'

export interface NoteSignature {
  name: string
  /** uint32 key ID (first four bytes of the decoded signature) */
  keyId: number
  /** the signature proper, after the key ID */
  signature: Uint8Array
}

export interface SignedNote {
  /** the signed text, including its final newline */
  text: string
  signatures: NoteSignature[]
}

/** Verifiers must accept 16 signatures (the spec); more than this is refused as abuse. */
export const MAX_NOTE_SIGNATURES = 100
/** A Petal checkpoint is a few hundred bytes; post-quantum cosignatures are up to ~5 KB each. */
export const MAX_NOTE_BYTES = 256 * 1024

const EM_DASH = '\u2014'
// Go's unicode.IsSpace: the C2SP reference implementation's notion of "Unicode spaces".
const UNICODE_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u
// ASCII controls other than newline are forbidden anywhere in a note.
const CONTROL = /[\u0000-\u0009\u000b-\u001f]/u

/** Key names: non-empty, no Unicode spaces, no '+'. */
export function isValidKeyName (name: string): boolean {
  return name !== '' && name.isWellFormed() && !UNICODE_SPACE.test(name) && !name.includes('+')
}

export type NoteParse = { note: SignedNote } | { error: string, unsigned?: boolean }

/** Parse a signed note. Every rule of the spec is enforced; nothing is verified here. */
export function parseNote (input: string): NoteParse {
  if (input.length > MAX_NOTE_BYTES) return { error: `the note is longer than ${MAX_NOTE_BYTES} characters` }
  if (!input.isWellFormed()) return { error: 'the note is not valid UTF-8' }
  if (CONTROL.test(input)) return { error: 'the note contains a control character other than newline (a carriage return, a tab...)' }
  if (!input.endsWith('\n')) return { error: 'the note does not end with a newline' }
  const split = input.lastIndexOf('\n\n')
  if (split < 0) {
    // Text only, or signature lines without the blank line before them: either way, unsigned.
    return { error: 'the note has no signatures (no blank line followed by signature lines)', unsigned: true }
  }
  const text = input.slice(0, split + 1)
  const block = input.slice(split + 2)
  if (block === '') return { error: 'the note has no signatures', unsigned: true }
  const lines = block.slice(0, -1).split('\n')
  if (lines.length > MAX_NOTE_SIGNATURES) return { error: `the note has more than ${MAX_NOTE_SIGNATURES} signatures` }
  const signatures: NoteSignature[] = []
  for (const line of lines) {
    const sig = parseSignatureLine(line)
    if (typeof sig === 'string') return { error: sig }
    signatures.push(sig)
  }
  return { note: { text, signatures } }
}

function parseSignatureLine (line: string): NoteSignature | string {
  if (!line.startsWith(EM_DASH + ' ')) return `signature line ${JSON.stringify(line.slice(0, 40))} does not start with "— "`
  const rest = line.slice(2)
  const space = rest.indexOf(' ')
  if (space < 0) return 'a signature line has no space between key name and signature'
  const name = rest.slice(0, space)
  const b64 = rest.slice(space + 1)
  if (!isValidKeyName(name)) return `invalid key name ${JSON.stringify(name)} (it must be non-empty, without spaces or '+')`
  const bytes = fromBase64(b64)
  if (bytes === undefined) return `the signature of ${name} is not canonical base64`
  if (bytes.length < 5) return `the signature of ${name} is too short to hold a key ID and a signature`
  const keyId = ((bytes[0] as number) * 2 ** 24) + (((bytes[1] as number) << 16) | ((bytes[2] as number) << 8) | (bytes[3] as number))
  return { name, keyId, signature: bytes.subarray(4) }
}

/** One signature line, with its newline. */
export function formatSignatureLine (s: NoteSignature): string {
  return `${EM_DASH} ${s.name} ${toBase64(concatBytes(u32be(s.keyId), s.signature))}\n`
}

/** The whole note: text, blank line, signature lines. */
export function formatNote (note: SignedNote): string {
  return note.text + '\n' + note.signatures.map(formatSignatureLine).join('')
}

export function keyIdHex (keyId: number): string {
  return keyId.toString(16).padStart(8, '0')
}

/** The uint32 key ID in the first four bytes of a digest. */
export function keyIdOfDigest (digest: Uint8Array): number {
  return (digest[0] as number) * 2 ** 24 + (((digest[1] as number) << 16) | ((digest[2] as number) << 8) | (digest[3] as number))
}
