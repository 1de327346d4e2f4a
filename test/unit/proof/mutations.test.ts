import { beforeAll, describe, expect, it } from 'vitest'
import { hashRows, openBlockReadonly, readBlockFile } from '../../../src/block/index.js'
import { leafHash, publicKeyToPem, type SigningKey } from '../../../src/crypto/index.js'
import {
  addCosignature, buildRowProof, checkpointText, chainLeafHash, consistencyProof, createCheckpoint, inclusionProof, MemoryNodeStore,
  parseTrustFile, parseWitnessKey, signCheckpoint, treeRoot, verifyProof, witnessVkey,
  type RejectionCode, type RowProofDocument, type TrustAnchors, type VerifyOptions
} from '../../../src/proof/index.js'
import { encodeRow, formatNote, parseNote, tableEntryValues } from '../../../src/proof/verifier/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { provableChain, type ProvableChain } from '../../helpers/proof.js'

// Every way of tampering with a proof must be refused, each with its own reason: the verifier
// stops at the first failing step and names it.

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const clone = (d: RowProofDocument): RowProofDocument => JSON.parse(JSON.stringify(d)) as RowProofDocument

function flipHex (h: string, byte: number): string {
  const b = Buffer.from(h, 'hex')
  b[byte] = (b[byte] as number) ^ (1 << (byte % 8))
  return b.toString('hex')
}

async function trustOf (...keys: SigningKey[]): Promise<TrustAnchors> {
  const t = await parseTrustFile(keys.map(k => publicKeyToPem(k.publicKey)).join(''))
  if (typeof t === 'string') throw new Error(t)
  return t
}

let pc: ProvableChain
let alice: SigningKey
let bob: SigningKey
let carol: SigningKey
/** A sound row proof against a final checkpoint signed by the chain's key only. */
let base: RowProofDocument
let trust: TrustAnchors

async function code (doc: RowProofDocument, t: TrustAnchors = trust, o: VerifyOptions = {}): Promise<RejectionCode | 'ACCEPTED'> {
  const r = await verifyProof(JSON.stringify(doc), t, o)
  return r.failure?.code ?? 'ACCEPTED'
}

function withCheckpoint (doc: RowProofDocument, checkpoint: string): RowProofDocument {
  return { ...clone(doc), checkpoint }
}

beforeAll(async () => {
  alice = fixtureKey('alice')
  bob = fixtureKey('bob')
  carol = fixtureKey('carol')
  pc = await provableChain({ key: alice })
  const tip = pc.chain.tip().height
  // Size typedHeight + 1 with the tip 2 above: exactly final under max_reorg_depth 2.
  const checkpoint = createCheckpoint({ chainId: pc.chain.chainId, tree: pc.tree, size: pc.typedHeight + 1, tip, maxReorgDepth: 2, keys: [alice] })
  base = await buildRowProof(pc.chain.dir.blockPath(pc.typedHeight), { table: 'people', rowid: 3n }, { chainId: pc.chain.chainId, tree: pc.tree, checkpoint })
  trust = await trustOf(alice)
})

describe('mutated row proofs', () => {
  it('accepts the sound proof (so that every rejection below is the mutation\'s doing)', async () => {
    expect(await code(base)).toBe('ACCEPTED')
    expect(await code(base, trust, { requireFinal: true, chainId: pc.chain.chainId })).toBe('ACCEPTED')
  })

  it('rejects a flipped bit in every byte of every hash of the proof, at the tree it belongs to', async () => {
    type Field = [string, (d: RowProofDocument) => { get: () => string, set: (v: string) => void }, RejectionCode]
    const fields: Field[] = [
      ['block.hash', d => ({ get: () => d.block.hash, set: v => { d.block.hash = v } }), 'CHAIN_INCLUSION_FAILED'],
      ['block.rows_root', d => ({ get: () => d.block.rows_root, set: v => { d.block.rows_root = v } }), 'CHAIN_INCLUSION_FAILED'],
      ['block.creator', d => ({ get: () => d.block.creator.slice(2), set: v => { d.block.creator = '1:' + v } }), 'CHAIN_INCLUSION_FAILED'],
      ...base.block.path.map((_, i): Field => [`block.path[${i}]`, d => ({ get: () => d.block.path[i] as string, set: v => { d.block.path[i] = v } }), 'CHAIN_INCLUSION_FAILED']),
      ['table.root', d => ({ get: () => d.table.root, set: v => { d.table.root = v } }), 'TABLE_INCLUSION_FAILED'],
      ...base.table.path.map((_, i): Field => [`table.path[${i}]`, d => ({ get: () => d.table.path[i] as string, set: v => { d.table.path[i] = v } }), 'TABLE_INCLUSION_FAILED']),
      ...base.row.path.map((_, i): Field => [`row.path[${i}]`, d => ({ get: () => d.row.path[i] as string, set: v => { d.row.path[i] = v } }), 'ROW_INCLUSION_FAILED'])
    ]
    let flips = 0
    for (const [name, access, expected] of fields) {
      for (let byte = 0; byte < 32; byte++) {
        const d = clone(base)
        const f = access(d)
        f.set(flipHex(f.get(), byte))
        expect(await code(d), `${name} byte ${byte}`).toBe(expected)
        flips++
      }
    }
    expect(flips).toBe(32 * (4 + base.block.path.length + base.table.path.length + base.row.path.length))
  })

  it('rejects a flipped bit in every byte of the signature line and of the signed root', async () => {
    const note = parseNote(base.checkpoint)
    if ('error' in note) throw new Error(note.error)
    const sig = note.note.signatures[0] as { name: string, keyId: number, signature: Uint8Array }
    const raw = Buffer.concat([Buffer.from([sig.keyId >>> 24, (sig.keyId >>> 16) & 255, (sig.keyId >>> 8) & 255, sig.keyId & 255]), sig.signature])
    for (let byte = 0; byte < raw.length; byte++) {
      const m = Buffer.from(raw)
      m[byte] = (m[byte] as number) ^ (1 << (byte % 8))
      const mutated = formatNote({ text: note.note.text, signatures: [{ name: sig.name, keyId: m.readUInt32BE(0), signature: m.subarray(4) }] })
      // A changed key ID makes it a signature by a key nobody trusts; a changed signature fails.
      expect(await code(withCheckpoint(base, mutated)), `signature byte ${byte}`).toBe(byte < 4 ? 'SIGNATURE_UNTRUSTED' : 'SIGNATURE_INVALID')
    }
    const [origin, size, root, ext] = note.note.text.split('\n') as [string, string, string, string]
    const rootBytes = Buffer.from(root, 'base64')
    for (let byte = 0; byte < 32; byte++) {
      const r = Buffer.from(rootBytes)
      r[byte] = (r[byte] as number) ^ (1 << (byte % 8))
      const text = [origin, size, r.toString('base64'), ext, ''].join('\n')
      expect(await code(withCheckpoint(base, formatNote({ text, signatures: note.note.signatures }))), `root byte ${byte}`).toBe('SIGNATURE_INVALID')
    }
  })

  it('rejects a changed row value of every type', async () => {
    const changes: Array<(v: RowProofDocument['row']['values']) => void> = [
      v => { v[0] = { integer: '4' } },
      v => { v[1] = { text: 'zoe ✓ 𝄞' } },
      v => { v[2] = { real: '0.3' } },
      v => { v[3] = { blob: 'AA==' } },
      v => { v[3] = null },
      v => { v[4] = { integer: '-9223372036854775808' } },
      v => { v[4] = { text: '9223372036854775807' } },
      v => { v.reverse() }
    ]
    for (const [i, change] of changes.entries()) {
      const d = clone(base)
      change(d.row.values)
      expect(await code(d), `change ${i}`).toBe('ROW_INCLUSION_FAILED')
    }
  })

  it('rejects index ± 1 at every level', async () => {
    for (const delta of [-1, 1]) {
      const r = clone(base); r.row.index += delta
      expect(await code(r), `row index ${delta}`).toBe('ROW_INCLUSION_FAILED')
      const t = clone(base); t.table.index += delta
      expect(await code(t), `table index ${delta}`).toBe('TABLE_INCLUSION_FAILED')
      const b = clone(base); b.block.height += delta
      expect(await code(b), `height ${delta}`).toBe('CHAIN_INCLUSION_FAILED')
    }
  })

  it('rejects size × 2 and ÷ 2 at every level, even in a checkpoint its signer re-signs', async () => {
    const note = parseNote(base.checkpoint)
    if ('error' in note) throw new Error(note.error)
    const size = Number(note.note.text.split('\n')[1])
    for (const s of [size * 2, Math.floor(size / 2)]) {
      const root = Buffer.from(note.note.text.split('\n')[2] as string, 'base64')
      const text = checkpointText({ chainId: pc.chain.chainId, size: s, root, tip: Math.max(s - 1, pc.chain.tip().height), maxReorgDepth: 2 })
      expect(await code(withCheckpoint(base, signCheckpoint(text, [alice]))), `checkpoint size ${s}`).toBe('CHAIN_INCLUSION_FAILED')
    }
    for (const f of [(n: number) => n * 2, (n: number) => Math.floor(n / 2)]) {
      const rc = clone(base); rc.table.row_count = f(rc.table.row_count)
      expect(await code(rc), `row_count ${rc.table.row_count}`).toBe('TABLE_INCLUSION_FAILED')
      const tc = clone(base); tc.table.table_count = f(tc.table.table_count)
      expect(await code(tc), `table_count ${tc.table.table_count}`).toBe('TABLE_INCLUSION_FAILED')
    }
  })

  it('rejects truncated and extended paths at every level', async () => {
    const extra = hex(leafHash(Uint8Array.of(1)))
    const edits: Array<[string, (p: string[]) => void]> = [
      ['drop last', p => { p.pop() }], ['drop first', p => { p.shift() }],
      ['append', p => { p.push(extra) }], ['prepend', p => { p.unshift(extra) }],
      ['repeat last', p => { p.push(p.at(-1) as string) }]
    ]
    for (const [name, edit] of edits) {
      const b = clone(base); edit(b.block.path)
      expect(await code(b), `block path: ${name}`).toBe('CHAIN_INCLUSION_FAILED')
      const t = clone(base); edit(t.table.path)
      expect(await code(t), `table path: ${name}`).toBe('TABLE_INCLUSION_FAILED')
      const r = clone(base); edit(r.row.path)
      expect(await code(r), `row path: ${name}`).toBe('ROW_INCLUSION_FAILED')
    }
  })

  it('rejects another chain\'s checkpoint, and a proof moved to another chain', async () => {
    const other = await provableChain({ key: alice })
    const foreign = createCheckpoint({ chainId: other.chain.chainId, tree: other.tree, tip: other.chain.tip().height, maxReorgDepth: 2, keys: [alice] })
    expect(await code(withCheckpoint(base, foreign))).toBe('CHECKPOINT_OTHER_CHAIN')
    const moved = withCheckpoint(base, foreign)
    moved.chain_id = other.chain.chainId
    expect(await code(moved)).toBe('CHAIN_INCLUSION_FAILED')
    expect(await code(base, trust, { chainId: other.chain.chainId })).toBe('UNEXPECTED_CHAIN')
  })

  it('rejects an unsigned checkpoint, a signature by an unknown key, too few signatures, a replayed signature', async () => {
    const text = checkpointText({ chainId: pc.chain.chainId, size: pc.typedHeight + 1, root: treeRoot(pc.tree, pc.typedHeight + 1), tip: pc.chain.tip().height, maxReorgDepth: 2 })
    expect(await code(withCheckpoint(base, text))).toBe('CHECKPOINT_UNSIGNED')
    expect(await code(withCheckpoint(base, text + '\n'))).toBe('CHECKPOINT_UNSIGNED')
    expect(await code(withCheckpoint(base, signCheckpoint(text, [carol])))).toBe('SIGNATURE_UNTRUSTED')
    // Known and unknown together: the unknown signature is ignored, and kept in the report.
    const mixed = signCheckpoint(text, [carol, alice])
    const r = await verifyProof(withCheckpoint(base, mixed), trust)
    expect(r.ok).toBe(true)
    expect(r.signatures.map(s => s.status)).toEqual(['ignored', 'valid'])
    const both = await trustOf(alice, bob)
    expect(await code(withCheckpoint(base, signCheckpoint(text, [alice, bob])), both, { minSignatures: 2 })).toBe('ACCEPTED')
    expect(await code(withCheckpoint(base, signCheckpoint(text, [alice])), both, { minSignatures: 2 })).toBe('TOO_FEW_SIGNATURES')
    // Two signatures by one key count once.
    expect(await code(withCheckpoint(base, signCheckpoint(parseNoteOrThrow(signCheckpoint(text, [alice])), [alice])), both, { minSignatures: 2 })).toBe('TOO_FEW_SIGNATURES')
    // A genuine signature of another checkpoint, pasted under this one.
    const older = parseNoteOrThrow(createCheckpoint({ chainId: pc.chain.chainId, tree: pc.tree, size: 2, tip: pc.chain.tip().height, maxReorgDepth: 2, keys: [alice] }))
    expect(await code(withCheckpoint(base, formatNote({ text, signatures: older.signatures })))).toBe('SIGNATURE_INVALID')
  })

  it('rejects a checkpoint that is not final when finality is demanded', async () => {
    const tip = pc.chain.tip().height
    const recent = createCheckpoint({ chainId: pc.chain.chainId, tree: pc.tree, tip, maxReorgDepth: 2, keys: [alice] })
    const d = await buildRowProof(pc.chain.dir.blockPath(pc.typedHeight), { table: 'people', rowid: 3n }, { chainId: pc.chain.chainId, tree: pc.tree, checkpoint: recent })
    expect(await code(d)).toBe('ACCEPTED')
    expect(await code(d, trust, { requireFinal: true })).toBe('NOT_FINAL')
  })

  it('demands witness cosignatures when told to, and rejects a forged one', async () => {
    const witness = await parseWitnessKey(await witnessVkey('witness.example/w1', carol))
    if (typeof witness === 'string') throw new Error(witness)
    const demanding = { ...trust, witnesses: [witness] }
    expect(await code(base, demanding)).toBe('WITNESS_MISSING')
    const cosigned = addCosignature(base.checkpoint, { name: 'witness.example/w1', key: carol }, 1_700_000_000)
    const r = await verifyProof(withCheckpoint(base, cosigned), demanding)
    expect(r.failure).toBeUndefined()
    expect(r.signatures.find(s => s.kind === 'witness')).toMatchObject({ status: 'valid', time: '1700000000' })
    // The same cosignature by another key under the witness's name, and a cosignature with a changed time.
    const byBob = addCosignature(base.checkpoint, { name: 'witness.example/w1', key: bob }, 1_700_000_000)
    expect(await code(withCheckpoint(base, byBob), demanding)).toBe('WITNESS_MISSING')
    const n = parseNoteOrThrow(cosigned)
    const w = n.signatures[1] as { name: string, keyId: number, signature: Uint8Array }
    const later = Buffer.from(w.signature)
    later[7] = (later[7] as number) ^ 1
    expect(await code(withCheckpoint(base, formatNote({ text: n.text, signatures: [n.signatures[0] as typeof w, { ...w, signature: later }] })), demanding)).toBe('COSIGNATURE_INVALID')
  })

  it('rejects a malformed document with a path to the bad field', async () => {
    const cases: Array<[string, (d: Record<string, unknown>) => void]> = [
      ['unknown field', d => { d.extra = 1 }],
      ['version', d => { d.petal_proof = 2 }],
      ['short hash', d => { (d.block as { hash: string }).hash = 'ab' }],
      ['upper-case hex', d => { (d.block as { hash: string }).hash = (base.block.hash).toUpperCase() }],
      ['non-canonical integer', d => { ((d.row as { values: unknown[] }).values)[0] = { integer: '03' } }],
      ['value count', d => { ((d.row as { values: unknown[] }).values).pop() }],
      ['non-canonical base64 blob', d => { ((d.row as { values: unknown[] }).values)[3] = { blob: 'AB==' } }]
    ]
    for (const [name, edit] of cases) {
      const d = JSON.parse(JSON.stringify(base)) as Record<string, unknown>
      edit(d)
      const r = await verifyProof(d, trust)
      expect(r.failure?.code, name).toBe('PROOF_MALFORMED')
    }
    expect((await verifyProof('{', trust)).failure?.code).toBe('PROOF_MALFORMED')
  })
})

function parseNoteOrThrow (s: string): { text: string, signatures: Array<{ name: string, keyId: number, signature: Uint8Array }> } {
  const n = parseNote(s)
  if ('error' in n) throw new Error(n.error)
  return n.note
}

// GHSA-672p-m5jq-mrh8: immudb's client accepted a forged proof because part of it (the linear
// proof between two states) was not bound to the state it trusted. The same class here: a verifier
// that trusts an old checkpoint must not accept rows from a newer tree just because that tree is
// consistent with the old one, and consistency must bind every old leaf.
describe('proofs that lean on a trusted checkpoint (the immudb GHSA-672p-m5jq-mrh8 class)', () => {
  /** The chain tree with leaf `height` replaced by a forged block whose row 3 of `people` says otherwise. */
  async function forge (): Promise<{ tree: MemoryNodeStore, doc: RowProofDocument }> {
    const h = pc.typedHeight
    const file = await readBlockFile(pc.chain.dir.blockPath(h), { maxBytes: Number.MAX_SAFE_INTEGER, checkManifest: false })
    const people = file.userTables.find(t => t.name === 'people')
    if (people === undefined) throw new Error('no people')
    const rows = new MemoryNodeStore()
    const db = openBlockReadonly(pc.chain.dir.blockPath(h))
    hashRows(db, people, { push: l => { rows.append(l) } }, {})
    db.close()
    const forgedValues = base.row.values.map((v, i) => i === 1 ? { text: 'mallory' } : v)
    const rowLeaves = rows.readNodes(Array.from({ length: rows.size }, (_, i) => ({ level: 0, index: i })))
    rowLeaves[base.row.index] = leafHash(encodeRow(forgedValues))
    const forgedRows = new MemoryNodeStore()
    for (const l of rowLeaves) forgedRows.append(l)
    const tableRoot = hex(treeRoot(forgedRows, forgedRows.size))
    const entries = [...file.tables].sort((a, b) => a.name < b.name ? -1 : 1).map(t => t.name === 'people' ? { ...t, root: tableRoot } : t)
    const tables = new MemoryNodeStore()
    for (const e of entries) tables.append(leafHash(encodeRow(tableEntryValues(e))))
    const rowsRoot = hex(treeRoot(tables, tables.size))
    const chainLeaves = pc.tree.readNodes(Array.from({ length: pc.tree.size }, (_, i) => ({ level: 0, index: i })))
    const forgedBlock = { height: h, hash: base.block.hash, rowsRoot, creator: base.block.creator }
    chainLeaves[h] = chainLeafHash(forgedBlock)
    const tree = new MemoryNodeStore()
    for (const l of chainLeaves) tree.append(l)
    const size = tree.size
    // The forger signs with a key of his own: nobody trusts it.
    const checkpoint = createCheckpoint({ chainId: pc.chain.chainId, tree, tip: size - 1, maxReorgDepth: 0, keys: [carol] })
    const doc = clone(base)
    doc.checkpoint = checkpoint
    doc.block = { ...doc.block, rows_root: rowsRoot, path: inclusionProof(tree, h, size).map(hex) }
    doc.table = { ...doc.table, root: tableRoot, path: inclusionProof(tables, doc.table.index, tables.size).map(hex) }
    doc.row = { ...doc.row, values: forgedValues, path: inclusionProof(forgedRows, doc.row.index, forgedRows.size).map(hex) }
    return { tree, doc }
  }

  it('does not accept a row beyond the trusted checkpoint from a consistent but untrusted tree', async () => {
    const { tree, doc } = await forge()
    // Trusted earlier: the checkpoint before the forged block (the forger keeps that prefix intact).
    const m = pc.typedHeight
    const old = createCheckpoint({ chainId: pc.chain.chainId, tree: pc.tree, size: m, tip: pc.chain.tip().height, maxReorgDepth: 2, keys: [alice] })
    doc.consistency = [{ size: m, path: consistencyProof(tree, m, tree.size).map(hex) }]
    const onlyOld: TrustAnchors = { keys: [], witnesses: [], checkpoints: [old] }
    expect(await code(doc, onlyOld)).toBe('BEYOND_TRUSTED_CHECKPOINT')
    // With the signatories' keys as well, the forger's checkpoint is simply untrusted.
    expect(await code(doc, { ...trust, checkpoints: [old] })).toBe('SIGNATURE_UNTRUSTED')
    // A row inside the trusted prefix, proven through the same forged tree, is genuine and accepted.
    const honest = await buildRowProof(pc.chain.dir.blockPath(1), { table: 't', index: 2 }, { chainId: pc.chain.chainId, tree: pc.tree, checkpoint: old })
    const via = clone(honest)
    via.checkpoint = doc.checkpoint
    via.block = { ...via.block, path: inclusionProof(tree, 1, tree.size).map(hex) }
    via.consistency = doc.consistency
    expect(await code(via, onlyOld)).toBe('ACCEPTED')
  })

  it('does not accept a rewritten old block: consistency binds every leaf of the trusted tree', async () => {
    // Trusted: a checkpoint that already contains the genuine block (sizes 2^k and not).
    for (const m of [pc.typedHeight + 1, pc.typedHeight + 2]) {
      const { tree, doc } = await forge()
      const old = createCheckpoint({ chainId: pc.chain.chainId, tree: pc.tree, size: m, tip: pc.chain.tip().height, maxReorgDepth: 2, keys: [alice] })
      const onlyOld: TrustAnchors = { keys: [], witnesses: [], checkpoints: [old] }
      // The forger's best tries: a consistency path from his own tree, the honest one, none.
      doc.consistency = [{ size: m, path: consistencyProof(tree, m, tree.size).map(hex) }]
      expect(await code(doc, onlyOld), `size ${m}, forged path`).toBe('CONSISTENCY_FAILED')
      doc.consistency = [{ size: m, path: consistencyProof(pc.tree, m, pc.tree.size).map(hex) }]
      expect(await code(doc, onlyOld), `size ${m}, honest path`).toBe('CONSISTENCY_FAILED')
      doc.consistency = []
      expect(await code(doc, onlyOld), `size ${m}, no path`).toBe('CONSISTENCY_MISSING')
      // The genuine row, proven against the newer honest checkpoint with the honest consistency path.
      const newer = createCheckpoint({ chainId: pc.chain.chainId, tree: pc.tree, tip: pc.chain.tip().height, maxReorgDepth: 2, keys: [alice] })
      const genuine = await buildRowProof(pc.chain.dir.blockPath(pc.typedHeight), { table: 'people', rowid: 3n }, { chainId: pc.chain.chainId, tree: pc.tree, checkpoint: newer, consistencyWith: [m] })
      expect(await code(genuine, onlyOld), `size ${m}, genuine`).toBe('ACCEPTED')
      expect(await code(genuine, { ...trust, checkpoints: [old] })).toBe('ACCEPTED')
    }
  })
})
