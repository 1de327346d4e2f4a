import type { BlockRecord } from '../storage/index.js'
import { isKeyId } from '../crypto/index.js'
import { isHash, isRecord } from '../util/index.js'
import { LIMITS } from './constants.js'
import { NetworkError } from './errors.js'

/**
 * A block header as it travels in announcements, status replies and `headers` replies: enough to
 * place the block in a chain and to check its seal before fetching the file (docs/protocol.md).
 */
export interface WireHeader {
  hash: string
  height: number
  parent: string
  version: 1 | 2
  /** key id of the signer */
  signer: string
  timestamp: string
  /** '' for v1 blocks */
  rowsRoot: string
  /** hex DER `PreviousBlockHashSignature` */
  prevSig: string
  /** hex DER seal */
  seal: string
  /** file size in bytes */
  size: number
}

export function headerOf (b: BlockRecord): WireHeader {
  return {
    hash: b.hash, height: b.height, parent: b.parent, version: b.version === 1 ? 1 : 2, signer: b.signer,
    timestamp: b.timestamp, rowsRoot: b.rowsRoot, prevSig: b.prevSig, seal: b.seal, size: b.size
  }
}

const SIG_RE = /^(?:[0-9a-f]{2})+$/

export function malformed (what: string): NetworkError {
  return new NetworkError('MALFORMED', `malformed ${what}`)
}

/**
 * A height, size or count: a non-negative safe integer. Negative zero (JSON's `-0`, `-0.0`, `-0e3`)
 * is not one: its sign says negative, `Object.is` and a division tell it from 0, and Petal never
 * writes it (JSON.stringify gives `0`), so only a broken or hostile peer sends it
 * (docs/protocol.md, "Messages"). Until session 47 it was read as a height of 0.
 */
function isCount (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max && !Object.is(v, -0)
}

function isSig (v: unknown): v is string {
  return typeof v === 'string' && v.length <= LIMITS.signatureHex && SIG_RE.test(v)
}

/** Strictly check a header received from a peer: every field typed, bounded and well formed. */
export function parseHeader (v: unknown, what = 'header'): WireHeader {
  if (!isRecord(v)) throw malformed(what)
  const { hash, height, parent, version, signer, timestamp, rowsRoot, prevSig, seal, size } = v
  if (!isHash(hash) || !isHash(parent) || !isCount(height) || (version !== 1 && version !== 2) ||
    !isKeyId(signer) || typeof timestamp !== 'string' || timestamp.length > 64 ||
    !(rowsRoot === '' || isHash(rowsRoot)) || !isSig(prevSig) || !isSig(seal) || !isCount(size)) {
    throw malformed(what)
  }
  return { hash, height, parent, version, signer, timestamp, rowsRoot, prevSig, seal, size }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeJson (v: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(v))
}

/** Decode one JSON message of at most `limit` bytes; anything else is MALFORMED or OVERSIZED. */
export function decodeJson (bytes: Uint8Array, limit: number, what: string): Record<string, unknown> {
  if (bytes.byteLength > limit) throw new NetworkError('OVERSIZED', `${what} of ${bytes.byteLength} bytes exceeds ${limit}`)
  let v: unknown
  try {
    v = JSON.parse(decoder.decode(bytes))
  } catch {
    throw malformed(what)
  }
  if (!isRecord(v)) throw malformed(what)
  return v
}

// ---- messages (docs/protocol.md "Messages") ----

/**
 * The signing key a node holds, shown to its peers in its status reply (docs/protocol.md "status"):
 * `sig` is its ECDSA signature of peerKeyMessage (its own peer id), so no node can claim another's
 * key. `null`: it holds none; absent (a Petal before session 50): unknown.
 */
export interface PeerSigner { key: string, sig: string }

export interface StatusMessage { genesis: string, tip: WireHeader, signer?: PeerSigner | null }

/** What a node's signing key signs to show it is the key of peer `peerId` on chain `chainId`. */
export function peerKeyMessage (chainId: string, peerId: string): string {
  return `petal/v2/peer-key\n${chainId}\n${peerId}\n`
}

export function parseStatus (o: Record<string, unknown>): StatusMessage {
  if (!isHash(o.genesis)) throw malformed('status')
  const s = o.signer
  if (s !== undefined && s !== null && !(isRecord(s) && isKeyId(s.key) && isSig(s.sig))) throw malformed('status')
  return { genesis: o.genesis, tip: parseHeader(o.tip, 'status'), ...(s === undefined ? {} : { signer: s === null ? null : { key: s.key as string, sig: s.sig as string } }) }
}

export interface HeadersRequest { from: number, count: number }

export function parseHeadersRequest (o: Record<string, unknown>): HeadersRequest {
  if (!isCount(o.from) || !isCount(o.count, LIMITS.maxHeaders) || o.count === 0) throw malformed('headers request')
  return { from: o.from, count: o.count }
}

/** A `headers` reply must be the requested heights, consecutive and linked, possibly cut short. */
export function parseHeadersReply (o: Record<string, unknown>, req: HeadersRequest): WireHeader[] {
  if (!Array.isArray(o.headers) || o.headers.length > req.count) throw malformed('headers reply')
  const hs = o.headers.map(h => parseHeader(h, 'headers reply'))
  hs.forEach((h, i) => {
    if (h.height !== req.from + i) throw malformed('headers reply (wrong heights)')
    const prev = hs[i - 1]
    if (prev !== undefined && h.parent !== prev.hash) throw malformed('headers reply (not linked)')
  })
  return hs
}

export function parseBlockRequest (o: Record<string, unknown>): { hash: string } {
  if (!isHash(o.hash)) throw malformed('block request')
  return { hash: o.hash }
}

/** A `blocks` request: 1…maxRangeBlocks distinct block hashes, served in this order. */
export function parseBlocksRequest (o: Record<string, unknown>): { hashes: string[] } {
  const h = o.hashes
  if (!Array.isArray(h) || h.length === 0 || h.length > LIMITS.maxRangeBlocks || !h.every(isHash) || new Set(h).size !== h.length) throw malformed('blocks request')
  return { hashes: h }
}

export type BlockMeta = { ok: true, size: number, seal: string } | { ok: false, error: 'NOT_FOUND' | 'BUSY' }

export function parseBlockMeta (o: Record<string, unknown>): BlockMeta {
  if (o.ok === true && isCount(o.size) && isSig(o.seal)) return { ok: true, size: o.size, seal: o.seal }
  if (o.ok === false && (o.error === 'NOT_FOUND' || o.error === 'BUSY')) return { ok: false, error: o.error }
  throw malformed('block reply')
}

export function parseChainParamsReply (o: Record<string, unknown>): string {
  if (typeof o.chainparams !== 'string') throw malformed('chainparams reply')
  return o.chainparams
}

/** A `checkpoints` request: the largest tree size the requester can use (its own chain tree's). */
export function parseCheckpointsRequest (o: Record<string, unknown>): { maxSize: number } {
  if (!isCount(o.maxSize) || o.maxSize === 0) throw malformed('checkpoints request')
  return { maxSize: o.maxSize }
}

/** Why a signatory's node did not sign the size asked for: its words and, since session 57, a code. */
export interface UnsignedReason { text: string, code?: string }

/** A parsed `checkpoints` reply. */
export interface CheckpointsReply { notes: string[], unsigned?: UnsignedReason }

/**
 * A `checkpoints` reply: at most maxCheckpointNotes signed notes, each a string of at most
 * LIMITS.checkpoint bytes of UTF-8 (OVERSIZED beyond). What the notes say is judged above
 * (the proof module): here only their shape. `unsigned` (≤ 200 characters) and `unsignedCode`
 * (a word) say why a size asked for was not signed: advice, so one of another shape is dropped,
 * not held against the peer.
 */
export function parseCheckpointsReply (o: Record<string, unknown>): CheckpointsReply {
  const notes = o.notes
  if (!Array.isArray(notes) || notes.length > LIMITS.maxCheckpointNotes || !notes.every(n => typeof n === 'string')) throw malformed('checkpoints reply')
  for (const n of notes as string[]) {
    if (encoder.encode(n).byteLength > LIMITS.checkpoint) throw new NetworkError('OVERSIZED', `checkpoints reply: a note exceeds ${LIMITS.checkpoint} bytes`)
  }
  if (typeof o.unsigned !== 'string' || o.unsigned.length > 200) return { notes: notes as string[] }
  const code = typeof o.unsignedCode === 'string' && /^[a-z][a-z-]{0,31}$/.test(o.unsignedCode) ? o.unsignedCode : undefined
  return { notes: notes as string[], unsigned: { text: o.unsigned, ...(code === undefined ? {} : { code }) } }
}
