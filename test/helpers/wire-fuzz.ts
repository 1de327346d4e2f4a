// The wire decoders' seeded fuzz (the suite's bounded run: test/unit/network/wire-fuzz.test.ts; a
// long run: scripts/wire-fuzz.ts). Valid messages of every kind, made by the code's own encoders
// (headerOf, encodeJson, formatNote), are mutated at the byte level (truncation, bit flips, length
// bytes, invalid UTF-8, NULs) and at the JSON level (wrong types, -0, 2^53 and beyond, NaN and
// Infinity spellings, duplicated and reordered keys, deep nesting, long strings). Each mutant goes
// through the real decoding path (gossip's validators, decodeJson and the parse* of each reply and
// request) and through a reference written here from docs/protocol.md, "Messages": both accept
// with the same value, or the code refuses with the reference's code (MALFORMED or OVERSIZED) and
// scores the sender for it; nothing else is thrown, and no input takes long (a hang detector).
import { peerIdFromString } from '@libp2p/peer-id'
import type { Message } from '@libp2p/gossipsub'
import { signPrevious, signSeal } from '../../src/block/index.js'
import type { SigningKey } from '../../src/crypto/index.js'
import { CheckpointGossip } from '../../src/network/checkpoint-gossip.js'
import { LIMITS } from '../../src/network/constants.js'
import { NetworkError } from '../../src/network/errors.js'
import { Gossip } from '../../src/network/gossip.js'
import type { Offence } from '../../src/network/scoring.js'
import { decodeJson, encodeJson, headerOf, parseBlockMeta, parseBlockRequest, parseBlocksRequest, parseChainParamsReply, parseHeadersReply, parseHeadersRequest, parseStatus, type WireHeader } from '../../src/network/wire.js'
import { formatCheckpointText, petalOrigin } from '../../src/proof/verifier/checkpoint.js'
import { formatNote, parseNote } from '../../src/proof/verifier/note.js'
import { parsePetalCheckpoint } from '../../src/proof/verifier/checkpoint.js'
import { nullLogger } from '../../src/util/index.js'
import { isDeepStrictEqual } from 'node:util'
import { bytesMutants, rng, type Rng } from './fuzz-rng.js'

export const KINDS = ['announcement', 'status', 'headersRequest', 'headersReply', 'blockRequest', 'blocksRequest', 'blockMeta', 'chainparams', 'checkpoint'] as const
export type Kind = typeof KINDS[number]

/** What a decoder (or the reference) made of one input. */
export type Outcome = { ok: true, value: unknown } | { ok: false, code: string }

const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const HASH = /^[0-9a-f]{64}$/
const SIG = /^(?:[0-9a-f]{2})+$/

function hex (r: Rng, bytes: number): string {
  let s = ''
  for (let i = 0; i < bytes; i++) s += r.int(256).toString(16).padStart(2, '0')
  return s
}

/** A header with real signatures by `key` (its seal over the fields it seals). */
export function seedHeader (r: Rng, key: SigningKey, height: number, parent: string): WireHeader {
  const chainId = 'c'.repeat(64)
  const hash = hex(r, 32)
  const rowsRoot = r.int(4) === 0 ? '' : hex(r, 32)
  return headerOf({
    hash, height, parent, canonical: true, version: rowsRoot === '' ? 1 : 2, signer: key.id, timestamp: new Date(1_700_000_000_000 + r.int(1e9)).toISOString(),
    rowsRoot, prevSig: signPrevious(key, chainId, height, parent), seal: signSeal(key, { chainId, height, rowsRoot }, hash), size: r.int(2 ** 31), keyOpCount: 0, receivedAt: 0
  })
}

/** A valid message of `kind` as the code encodes it, with what a headers reply answers. */
export function seedMessage (r: Rng, key: SigningKey, kind: Kind): { bytes: Uint8Array, req?: { from: number, count: number } } {
  const height = r.int(3) === 0 ? r.int(2 ** 20) : r.int(100)
  switch (kind) {
    case 'announcement': return { bytes: encodeJson(seedHeader(r, key, height, hex(r, 32))) }
    case 'status': return { bytes: encodeJson({ genesis: hex(r, 32), tip: seedHeader(r, key, height, hex(r, 32)) }) }
    case 'headersRequest': return { bytes: encodeJson({ from: height, count: 1 + r.int(LIMITS.maxHeaders) }) }
    case 'headersReply': {
      const n = 1 + r.int(8)
      const hs: WireHeader[] = []
      let parent = hex(r, 32)
      for (let i = 0; i < n; i++) { const h = seedHeader(r, key, height + i, parent); hs.push(h); parent = h.hash }
      return { bytes: encodeJson({ headers: hs }), req: { from: height, count: n + r.int(3) } }
    }
    case 'blockRequest': return { bytes: encodeJson({ hash: hex(r, 32) }) }
    case 'blocksRequest': return { bytes: encodeJson({ hashes: Array.from({ length: 1 + r.int(LIMITS.maxRangeBlocks) }, () => hex(r, 32)) }) }
    case 'blockMeta': return { bytes: encodeJson(r.int(3) === 0 ? { ok: false, error: r.int(2) === 0 ? 'BUSY' : 'NOT_FOUND' } : { ok: true, size: r.int(2 ** 31), seal: signSeal(key, { chainId: 'c'.repeat(64), height, rowsRoot: '' }, hex(r, 32)) }) }
    case 'chainparams': return { bytes: encodeJson({ chainparams: JSON.stringify({ chain_id: hex(r, 32), name: 'fuzz ✓', max_block_bytes: 1 << 20 }) }) }
    case 'checkpoint': {
      const text = formatCheckpointText({ origin: petalOrigin(hex(r, 32)), size: 1 + height, root: Uint8Array.from({ length: 32 }, () => r.int(256)), extensions: [`tip ${height + r.int(5)} max-reorg-depth ${r.int(100)}`] })
      const sig = { name: petalOrigin('c'.repeat(64)), keyId: r.int(2 ** 32), signature: Uint8Array.from({ length: 64 + r.int(8) }, () => r.int(256)) }
      return { bytes: new TextEncoder().encode(formatNote({ text, signatures: [sig] })) }
    }
  }
}

// ---- the code's paths ----

/** Gossip's and the checkpoint topic's validators, with the offences they charge and what they pass on. */
function validators (): { announce: Gossip, checkpoints: CheckpointGossip, last: { offence?: Offence, value?: unknown } } {
  const last: { offence?: Offence, value?: unknown } = {}
  const report = (_peer: string, offence: Offence): void => { last.offence = offence }
  // Neither constructor touches the libp2p node: only start() does.
  const announce = new Gossip(undefined as never, 'c'.repeat(64), { validate: h => { last.value = h; return 'accept' }, onAnnouncement: () => {} }, report, nullLogger)
  const checkpoints = new CheckpointGossip(undefined as never, 'c'.repeat(64), {
    // judgeCheckpoint's parsing (src/proof/received.ts), short of the chain's keys and tree
    validate: note => { const n = parseNote(note); const c = 'error' in n ? n.error : parsePetalCheckpoint(n.note.text); last.value = typeof c === 'string' ? { refused: note } : { note: n, checkpoint: c }; return typeof c === 'string' ? 'reject' : 'accept' },
    onCheckpoint: () => {}
  }, report, nullLogger)
  return { announce, checkpoints, last }
}
let v: ReturnType<typeof validators> | undefined
const peer = peerIdFromString(PEER)

const OFFENCE_CODE: Partial<Record<Offence, string>> = { malformed: 'MALFORMED', oversized: 'OVERSIZED', 'bad-seal': 'REJECTED' }

/** The code's decoding of `bytes` as `kind`: a value, or the code of what it threw (or charged). */
export function decode (kind: Kind, bytes: Uint8Array, req?: { from: number, count: number }): Outcome {
  if (kind === 'announcement' || kind === 'checkpoint') {
    v ??= validators()
    v.last.offence = undefined
    v.last.value = undefined
    const msg = { type: 'unsigned', topic: 't', data: bytes } as unknown as Message
    const verdict = kind === 'announcement' ? v.announce['validate'](peer, msg) : v.checkpoints['validate'](peer, msg)
    if (v.last.offence !== undefined) return { ok: false, code: OFFENCE_CODE[v.last.offence] ?? v.last.offence }
    return verdict === 'accept' ? { ok: true, value: v.last.value } : { ok: false, code: `verdict ${verdict}` }
  }
  try {
    switch (kind) {
      case 'status': return { ok: true, value: parseStatus(decodeJson(bytes, LIMITS.statusResponse, 'status reply')) }
      case 'headersRequest': return { ok: true, value: parseHeadersRequest(decodeJson(bytes, LIMITS.headersRequest, 'headers request')) }
      case 'headersReply': return { ok: true, value: parseHeadersReply(decodeJson(bytes, LIMITS.headersResponse, 'headers reply'), req ?? { from: 0, count: LIMITS.maxHeaders }) }
      case 'blockRequest': return { ok: true, value: parseBlockRequest(decodeJson(bytes, LIMITS.blockRequest, 'block request')) }
      case 'blocksRequest': return { ok: true, value: parseBlocksRequest(decodeJson(bytes, LIMITS.blocksRequest, 'blocks request')) }
      case 'blockMeta': return { ok: true, value: parseBlockMeta(decodeJson(bytes, LIMITS.blockResponseMeta, 'block reply')) }
      case 'chainparams': return { ok: true, value: parseChainParamsReply(decodeJson(bytes, LIMITS.chainparamsResponse, 'chainparams reply')) }
    }
  } catch (err) {
    // Only a coded NetworkError counts as a refusal; anything else (TypeError…) is a finding.
    return { ok: false, code: err instanceof NetworkError ? err.code : `uncoded ${(err as Error).name}: ${(err as Error).message}` }
  }
}

// ---- the reference, from docs/protocol.md "Messages" ----

const LIMIT: Record<Kind, number> = {
  announcement: LIMITS.announcement, status: LIMITS.statusResponse, headersRequest: LIMITS.headersRequest, headersReply: LIMITS.headersResponse,
  blockRequest: LIMITS.blockRequest, blocksRequest: LIMITS.blocksRequest, blockMeta: LIMITS.blockResponseMeta, chainparams: LIMITS.chainparamsResponse, checkpoint: LIMITS.checkpoint
}

class Bad extends Error {}
const bad = (): never => { throw new Bad() }
const obj = (x: unknown): Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x) ? x as Record<string, unknown> : bad()
// Negative zero is not a non-negative integer (docs/protocol.md, "Messages").
const count = (x: unknown, max = 2 ** 53 - 1): number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= max && !Object.is(x, -0) ? x : bad()
const hash = (x: unknown): string => typeof x === 'string' && HASH.test(x) ? x : bad()
const sig = (x: unknown): string => typeof x === 'string' && x.length <= 160 && SIG.test(x) ? x : bad()

function refHeader (x: unknown): WireHeader {
  const o = obj(x)
  const version = o.version === 1 || o.version === 2 ? o.version : bad()
  const timestamp = typeof o.timestamp === 'string' && o.timestamp.length <= 64 ? o.timestamp : bad()
  const signer = typeof o.signer === 'string' && /^1:[0-9a-f]{64}$/.test(o.signer) ? o.signer : bad()
  const rowsRoot = o.rowsRoot === '' ? '' : hash(o.rowsRoot)
  return { hash: hash(o.hash), height: count(o.height), parent: hash(o.parent), version, signer, timestamp, rowsRoot, prevSig: sig(o.prevSig), seal: sig(o.seal), size: count(o.size) }
}

/** UTF-8 JSON text (a leading byte-order mark allowed: RFC 8259 lets a parser ignore one) of an object. */
function refJson (bytes: Uint8Array): Record<string, unknown> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const text = buf.toString('utf8')
  if (!Buffer.from(text, 'utf8').equals(buf)) bad() // not UTF-8: decoding replaced something
  try {
    return obj(JSON.parse(text.startsWith('\ufeff') ? text.slice(1) : text))
  } catch (err) {
    if (err instanceof Bad) throw err
    return bad()
  }
}

function refBody (kind: Kind, o: Record<string, unknown>, req?: { from: number, count: number }): unknown {
  switch (kind) {
    case 'announcement': return refHeader(o)
    case 'status': return { genesis: hash(o.genesis), tip: refHeader(o.tip) }
    case 'headersRequest': { const c = count(o.count, LIMITS.maxHeaders); return c === 0 ? bad() : { from: count(o.from), count: c } }
    case 'headersReply': {
      const r = req ?? { from: 0, count: LIMITS.maxHeaders }
      const hs = Array.isArray(o.headers) && o.headers.length <= r.count ? o.headers.map(refHeader) : bad()
      hs.forEach((h, i) => { if (h.height !== r.from + i || (i > 0 && h.parent !== hs[i - 1]?.hash)) bad() })
      return hs
    }
    case 'blockRequest': return { hash: hash(o.hash) }
    case 'blocksRequest': {
      const h = o.hashes
      return Array.isArray(h) && h.length >= 1 && h.length <= LIMITS.maxRangeBlocks && new Set(h.map(hash)).size === h.length ? { hashes: h } : bad()
    }
    case 'blockMeta':
      if (o.ok === true) return { ok: true, size: count(o.size), seal: sig(o.seal) }
      return o.ok === false && (o.error === 'NOT_FOUND' || o.error === 'BUSY') ? { ok: false, error: o.error } : bad()
    case 'chainparams': return typeof o.chainparams === 'string' ? o.chainparams : bad()
    case 'checkpoint': return bad()
  }
}

/** The reference's reading of `bytes` as `kind` (checkpoints: OVERSIZED or MALFORMED only by size and UTF-8). */
export function reference (kind: Kind, bytes: Uint8Array, req?: { from: number, count: number }): Outcome | undefined {
  if (bytes.byteLength > LIMIT[kind]) return { ok: false, code: 'OVERSIZED' }
  if (kind === 'checkpoint') {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const text = buf.toString('utf8')
    // A byte-order mark is dropped by the topic's decoder and then fails the note's first line.
    return Buffer.from(text, 'utf8').equals(buf) ? undefined : { ok: false, code: 'MALFORMED' }
  }
  try {
    return { ok: true, value: refBody(kind, refJson(bytes), req) }
  } catch (err) {
    if (err instanceof Bad) return { ok: false, code: 'MALFORMED' }
    throw err
  }
}

// ---- JSON-level mutants ----

/** Values of the wrong type or at the edges, spelled as JSON text (some are not JSON at all). */
const ODD = ['null', 'true', '"x"', '-0', '0.0', '1e2', '1.5', '-1', '9007199254740991', '9007199254740992', '9007199254740993', '18446744073709551616', '1e308', '1e999', '-1e999', 'NaN', 'Infinity', '-Infinity', '[]', '{}', '""', '"\\u0000"', '"\\ud800"', '"\u0000"', '"é"', '0x10', '+1', '01', '.5', '1.', '"' + 'ab'.repeat(100) + '"', '"' + 'f'.repeat(64) + '"', '"' + 'F'.repeat(64) + '"', '"1:' + 'a'.repeat(64) + '"', '"__proto__"']

function nested (depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth)
}

/** Mutants of a JSON message: fields set to odd values, dropped, repeated, reordered, nested deep. */
export function jsonMutant (r: Rng, bytes: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(bytes)
  // Where a value starts: after a colon, or after [ or , inside an array.
  const at: number[] = []
  for (let i = 0; i < text.length; i++) if (text[i] === ':' || text[i] === '[' || (text[i] === ',' && text[i + 1] !== '"')) at.push(i + 1)
  const p = at.length === 0 ? 0 : at[r.int(at.length)] as number
  const end = valueEnd(text, p)
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
  switch (r.int(7)) {
    case 0: return enc(text.slice(0, p) + (ODD[r.int(ODD.length)] as string) + text.slice(end))
    // the giant forms (beyond every limit but the headers reply's) a quarter of the time: they cost the most
    case 1: return enc(text.slice(0, p) + nested(r.int(4) !== 0 ? 1 + r.int(100) : 100_000 + r.int(500_000)) + text.slice(end))
    case 2: return enc(text.slice(0, p) + '"' + 'x'.repeat(r.int(4) !== 0 ? 65 + r.int(8192) : 2_000_000) + '"' + text.slice(end))
    case 3: { // a key repeated with another value (JSON.parse takes the last)
      const k = text.lastIndexOf('"', text.lastIndexOf('"', p - 2) - 1)
      return k < 0 ? bytes : enc(text.slice(0, end) + ',' + text.slice(k, p) + (ODD[r.int(ODD.length)] as string) + text.slice(end))
    }
    case 4: { // the fields in another order
      try {
        const o = JSON.parse(text) as Record<string, unknown>
        return encodeJson(Object.fromEntries(Object.entries(o).sort(() => r.int(3) - 1)))
      } catch { return bytes }
    }
    case 5: return enc(text.slice(0, p) + text.slice(end).replace(/^,/, '')) // a value dropped
    default: return enc(text.slice(0, p) + '{"__proto__": {"ok": true}, "constructor": 1}' + text.slice(end))
  }
}

/** The end of the JSON value starting at `p` (a scan of brackets and strings). */
function valueEnd (s: string, p: number): number {
  let depth = 0
  let inStr = false
  for (let i = p; i < s.length; i++) {
    const c = s[i]
    if (inStr) { if (c === '\\') i++; else if (c === '"') inStr = false; continue }
    if (c === '"') inStr = true
    else if (c === '[' || c === '{') depth++
    else if (c === ']' || c === '}') { if (depth === 0) return i; depth-- } else if (c === ',' && depth === 0) return i
  }
  return s.length
}


// ---- one mutant, compared ----

export interface WireCounts {
  /** inputs tried, by kind */
  inputs: Partial<Record<Kind, number>>
  /** of them, accepted by both */
  accepted: Partial<Record<Kind, number>>
  /** refusals, by code */
  codes: Record<string, number>
  /** mutants by what was done */
  mutants: Record<string, number>
}

export function newWireCounts (): WireCounts {
  return { inputs: {}, accepted: {}, codes: {}, mutants: {} }
}

/** Past this, an input counts as a hang (a detector only: one decode takes well under a millisecond to a few). */
export const HANG_MS = 5_000

/** The seed message of (kind, seed); its mutants come from (seed, index). */
export function seedOf (key: SigningKey, kind: Kind, seed: number): { bytes: Uint8Array, req?: { from: number, count: number } } {
  const k = `${kind} ${seed} ${key.id}`
  let s = seeds.get(k)
  if (s === undefined) {
    if (seeds.size > 1000) seeds.clear()
    s = seedMessage(rngOf(seed, KINDS.indexOf(kind)), key, kind)
    seeds.set(k, s)
  }
  return s
}
const seeds = new Map<string, { bytes: Uint8Array, req?: { from: number, count: number } }>()

function rngOf (seed: number, i: number): Rng {
  return rng((Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0)
}

/** Disagreements of the code with the reference on one input (empty: none). */
export function compare (kind: Kind, bytes: Uint8Array, req: { from: number, count: number } | undefined, counts: WireCounts): string[] {
  const started = performance.now()
  const got = decode(kind, bytes, req)
  const ms = performance.now() - started
  const want = reference(kind, bytes, req)
  counts.inputs[kind] = (counts.inputs[kind] ?? 0) + 1
  const found: string[] = []
  if (ms > HANG_MS) found.push(`took ${Math.round(ms)} ms`)
  if (!got.ok) counts.codes[got.code] = (counts.codes[got.code] ?? 0) + 1
  if (!got.ok && got.code.startsWith('uncoded')) found.push(`threw ${got.code}`)
  if (kind === 'checkpoint' && want === undefined) {
    // Valid UTF-8 within the limit: parsed as a note (which must read back as these very bytes), or rejected.
    if (got.ok) {
      counts.accepted[kind] = (counts.accepted[kind] ?? 0) + 1
      const note = (got.value as { note: { note: Parameters<typeof formatNote>[0] } }).note.note
      if (formatNote(note) !== new TextDecoder().decode(bytes).replace(/^\ufeff/, '')) found.push('an accepted note does not format back to its bytes')
    } else if (got.code !== 'REJECTED') found.push(`a note refused as ${got.code}`)
    return found
  }
  if (want === undefined) throw new Error('no reference')
  if (got.ok && want.ok) {
    counts.accepted[kind] = (counts.accepted[kind] ?? 0) + 1
    if (!isDeepStrictEqual(got.value, want.value)) found.push(`accepted ${short(got.value)}, the reference reads ${short(want.value)}`)
  } else if (got.ok !== want.ok || (!got.ok && !want.ok && got.code !== want.code)) {
    found.push(`code: ${got.ok ? 'accepted ' + short(got.value) : got.code}; reference: ${want.ok ? 'accepted ' + short(want.value) : want.code}`)
  }
  return found
}

function short (v: unknown): string {
  const s = JSON.stringify(v) ?? String(v)
  return s.length > 300 ? `${s.slice(0, 300)}… (${s.length} characters)` : s
}

/** Mutant `i` of the seed message of (kind, seed): one to three byte- or JSON-level changes. */
export function mutant (key: SigningKey, kind: Kind, seed: number, i: number, counts?: WireCounts): { bytes: Uint8Array, req?: { from: number, count: number }, what: string } {
  const s = seedOf(key, kind, seed)
  const r = rngOf(seed, 1000 + i)
  let bytes = s.bytes
  const what: string[] = []
  for (let k = 1 + r.int(3); k > 0; k--) {
    if (kind !== 'checkpoint' && r.int(2) === 0) {
      bytes = jsonMutant(r, bytes)
      what.push('json')
    } else {
      const m = bytesMutants(r, bytes, LIMIT[kind])
      bytes = m.bytes
      what.push(m.what)
    }
  }
  for (const w of what) if (counts !== undefined) counts.mutants[w] = (counts.mutants[w] ?? 0) + 1
  return { bytes, req: s.req, what: what.join('+') }
}
