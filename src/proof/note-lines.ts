import type { Chain } from '../chain/index.js'
import { verifyV2, type PublicKey } from '../crypto/index.js'
import { fromHex } from '../util/index.js'
import { knownWitnesses } from './witness-keys.js'
import { cosignedMessage, formatNote, keyIdOfDigest, MAX_NOTE_SIGNATURES, parseNote, parsePetalCheckpoint, type PetalCheckpoint, type SignedNote } from './verifier/index.js'

// The lines of a checkpoint note a node stands behind (docs/proofs.md "Which cosignatures a node
// keeps"): each signature line is a statement of its own, by one key. A node keeps and passes on a
// line only when it verified it: by a signatory the chain knows (active or revoked: a signature
// made while a key was active stays true), or by a witness it knows (witness-keys.ts). Lines of
// unknown keys are dropped, not judged: C2SP verifiers ignore them, and a node that passed them on
// could pass on a forgery under a witness's public name and key ID. Of each key, one line.

type Line = SignedNote['signatures'][number]

export interface VerifiedNote {
  /** the note with only the verified lines (as stored and served) */
  note: string
  text: string
  checkpoint: PetalCheckpoint
  lines: Line[]
  /**
   * a line verifies by a signatory that vouches for the checkpoint: active at the tip, and added at
   * or below its last height (docs/proofs.md, "Which signatories vouch for a checkpoint")
   */
  signed: boolean
  /** a line by a signatory active at the tip does not verify: whoever sent the note is to blame */
  badSignatory: boolean
  /** lines of known witnesses that did not verify (forged or damaged), by witness name */
  badWitness: string[]
}

type Key = { kind: 'signatory', active: boolean, addedAt: number, publicKey: PublicKey } | { kind: 'witness', publicKey: PublicKey }

// Whether a line verifies is a fact of (key, text, line): kept, so that a proof does not verify
// again the lines of the checkpoint it is made against. Bounded; cleared when full.
const verdicts = new Map<string, boolean>()

function verifies (key: Key, name: string, text: string, line: Line): boolean {
  const id = `${key.publicKey.hex}\n${name}\n${Buffer.from(line.signature).toString('base64')}\n${text}`
  let ok = verdicts.get(id)
  if (ok === undefined) {
    if (key.kind === 'signatory') ok = verifyV2(key.publicKey, text, line.signature)
    else {
      const s = line.signature
      const time = s.length < 9 ? undefined : new DataView(s.buffer, s.byteOffset, 8).getBigUint64(0)
      ok = time !== undefined && time < 2n ** 63n && verifyV2(key.publicKey, cosignedMessage(name, time, text), s.subarray(8))
    }
    if (verdicts.size >= 4096) verdicts.clear()
    verdicts.set(id, ok)
  }
  return ok
}

interface Keys { signatories: Map<number, Key>, witnesses: Map<string, Key> }
const keyCache = new WeakMap<Chain, { tip: string, witnesses: unknown, keys: Keys }>()

/** The keys whose lines this node verifies (signatories by note key ID, witnesses by `name keyId`); built again when the tip or the witnesses change. */
function knownKeys (chain: Chain): Keys {
  const tip = chain.tip()
  const witnesses = knownWitnesses(chain)
  const hit = keyCache.get(chain)
  if (hit !== undefined && hit.tip === tip.hash && hit.witnesses === witnesses) return hit.keys
  const keys: Keys = { signatories: new Map(), witnesses: new Map() }
  for (const s of chain.keysAt(tip).all()) {
    const digest = fromHex(s.keyId.slice(2))
    if (digest !== undefined) keys.signatories.set(keyIdOfDigest(digest), { kind: 'signatory', active: s.revokedAt === null, addedAt: s.addedAt, publicKey: s.publicKey })
  }
  for (const w of witnesses) keys.witnesses.set(`${w.name} ${w.keyId}`, { kind: 'witness', publicKey: w.publicKey })
  keyCache.set(chain, { tip: tip.hash, witnesses, keys })
  return keys
}

/**
 * The lines of `note` this node verified, or undefined when it is no Petal checkpoint of this
 * chain. With `also`, lines already verified of the same text (a stored note) come first; the
 * union holds each key's line once.
 */
export function verifiedNote (chain: Chain, note: string, also: readonly Line[] = []): VerifiedNote | undefined {
  // Looked up once a call: it reads the tip and the witnesses file's stamp.
  const keys = knownKeys(chain)
  if (also.length > 0) return verifyNote(chain, keys, note, also)
  // A stored note is checked at every proof: the answer stands while the known keys do.
  const hit = noteCache.get(note)
  if (hit !== undefined && hit.keys === keys) return hit.v
  const v = verifyNote(chain, keys, note, also)
  if (noteCache.size >= 256) noteCache.clear()
  noteCache.set(note, { keys, v })
  return v
}

const noteCache = new Map<string, { keys: Keys, v: VerifiedNote | undefined }>()

function verifyNote (chain: Chain, keys: Keys, note: string, also: readonly Line[]): VerifiedNote | undefined {
  const n = parseNote(note)
  if ('error' in n) return undefined
  const checkpoint = parsePetalCheckpoint(n.note.text)
  if (typeof checkpoint === 'string' || checkpoint.chainId !== chain.chainId) return undefined
  const lines: Line[] = []
  const seen = new Set<string>()
  const r = { signed: false, badSignatory: false, badWitness: [] as string[] }
  for (const [line, checked] of [...also.map(l => [l, true] as const), ...n.note.signatures.map(l => [l, false] as const)]) {
    const id = `${line.name} ${line.keyId}`
    const key = line.name === checkpoint.origin ? keys.signatories.get(line.keyId) : keys.witnesses.get(id)
    if (key === undefined) continue
    const ok = verifies(key, line.name, n.note.text, line)
    if (key.kind === 'signatory' && key.active) {
      if (ok) r.signed ||= vouchesFor(key.addedAt, checkpoint.size)
      else if (!checked) r.badSignatory = true
    }
    if (!ok) {
      if (key.kind === 'witness' && !checked) r.badWitness.push(line.name)
      continue
    }
    if (seen.has(id)) continue
    seen.add(id)
    lines.push(line)
  }
  return { note: lines.length === 0 ? '' : formatNote({ text: n.note.text, signatures: lines }), text: n.note.text, checkpoint, lines, ...r }
}

/**
 * Whether a signatory key added at height `addedAt` (and active at the tip) vouches for a checkpoint
 * of tree size `size`: only when the key was added in the blocks that tree covers (docs/proofs.md,
 * "Which signatories vouch for a checkpoint"). A key added above them is gone with its block when a
 * reorg abandons it, and its note of an older, final tree with it: until session 53 such a note
 * replaced the other signatories' notes of that tree, and a consistency proof from its size failed.
 */
export function vouchesFor (addedAt: number, size: number): boolean {
  return addedAt <= size - 1
}

/** The signature lines of a note (no check). */
export function noteLines (note: string): Line[] {
  const n = parseNote(note)
  return 'error' in n ? [] : n.note.signatures
}

/**
 * The verified lines of the stored notes of checkpoint text `text` followed by those of `note`,
 * each key's once (`v`: what is served, gossiped and cosigned), what to store (`keep`: those, then
 * the stored lines of witnesses not listed now), and whether that adds to what is stored (`adds`).
 * Every stored note of the text counts (CheckpointTable.keep leaves one; a directory written before
 * session 52 may hold several, each with lines of its own).
 *
 * A witness struck from `witnesses` keeps its stored lines (they were verified when kept): never
 * used while it is not listed (verifiedNote drops them at each use), and used again if it is listed
 * again (docs/proofs.md, "Which cosignatures a node keeps"). Until session 54 they were dropped when
 * another line of that checkpoint merged, and kept otherwise: a witness listed again had back the
 * cosignatures of some checkpoints only.
 */
export function unionWithStored (chain: Chain, text: string, note: string): { v: VerifiedNote | undefined, keep?: string, adds: boolean } {
  const c = parsePetalCheckpoint(text)
  if (typeof c === 'string') return { v: undefined, adds: false }
  const stored = chain.index.checkpoints.ofText(c.size, text)
  const storedLines = stored.flatMap(r => noteLines(r.note))
  const v = verifiedNote(chain, note, storedLines)
  if (v === undefined || v.lines.length === 0) return { v, adds: false }
  const keep = formatNote({ text: v.text, signatures: [...v.lines, ...unlistedLines(chain, c.origin, storedLines, v.lines)] })
  return { v, keep, adds: !stored.some(r => r.note === keep) }
}

/**
 * Of `stored`, the lines of witnesses not listed now, each key's once, as many as a note may hold
 * beside `lines` and one line more (a witness's cosignature added to what is kept: a note full of
 * struck lines took it as a 101st, which no reader parses; review55).
 */
function unlistedLines (chain: Chain, origin: string, stored: readonly Line[], lines: readonly Line[]): Line[] {
  const known = knownKeys(chain).witnesses
  const seen = new Set(lines.map(l => `${l.name} ${l.keyId}`))
  const out: Line[] = []
  for (const l of stored) {
    const id = `${l.name} ${l.keyId}`
    if (l.name === origin || known.has(id) || seen.has(id)) continue
    seen.add(id)
    out.push(l)
  }
  return out.slice(0, Math.max(0, MAX_NOTE_SIGNATURES - 1 - lines.length))
}
