import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { leafHash, sha256Hex } from '../../../src/crypto/index.js'
import { chainLeafHash, checkpointText, encodeChainLeaf, inclusionProof, MemoryNodeStore, signatoryVkey, treeRoot, witnessVkey } from '../../../src/proof/index.js'
import { encodeRow, keyIdHex, parseNote, parseVkey, parseWitnessKey, tableEntryValues, verifyNoteSignature } from '../../../src/proof/verifier/index.js'
import { fixtureKey } from '../../helpers/chain.js'

// The vectors of docs/proofs.md, read from the document itself so that it cannot drift.
const doc = readFileSync(join(import.meta.dirname, '../../../docs/proofs.md'), 'utf8')
const json = /<!-- vectors:proofs -->\s*```json\n([\s\S]*?)\n```/.exec(doc)?.[1]
interface Leaf { height: number, hash: string, rows_root: string, creator: string, bytes: string, leaf_hash: string }
const v = JSON.parse(json ?? 'null') as {
  chain_leaves: Leaf[]
  example_tree: { chain_id: string, root: string, path_of_leaf_3: string[] }
  checkpoint: Record<string, string> & { witness_time: number }
  table_entry: { name: string, sql: string, rows: number, root: string, encoding: string, leaf_hash: string }
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('docs/proofs.md vectors', () => {
  it('are present and name the fixture keys', () => {
    expect(v).not.toBeNull()
    expect(v.checkpoint.signatory).toBe(fixtureKey('alice').id)
    expect(v.checkpoint.witness_public_key).toBe(fixtureKey('carol').publicKey.hex)
  })

  it('give the chain leaf bytes and hashes the code computes', () => {
    for (const l of v.chain_leaves) {
      const leaf = { height: l.height, hash: l.hash, rowsRoot: l.rows_root, creator: l.creator }
      expect(hex(encodeChainLeaf(leaf) ?? new Uint8Array())).toBe(l.bytes)
      expect(hex(chainLeafHash(leaf))).toBe(l.leaf_hash)
      expect(l.bytes.length / 2).toBe(124)
    }
  })

  it('give the example tree, its path, and the table leaf', () => {
    const alice = fixtureKey('alice')
    const tree = new MemoryNodeStore()
    for (let h = 0; h < 6; h++) tree.append(chainLeafHash({ height: h, hash: h === 0 ? v.example_tree.chain_id : sha256Hex(`block ${h}`), rowsRoot: v.chain_leaves[0]?.rows_root ?? '', creator: alice.id }))
    expect(hex(treeRoot(tree, 6))).toBe(v.example_tree.root)
    expect(inclusionProof(tree, 3, 6).map(hex)).toEqual(v.example_tree.path_of_leaf_3)
    const t = v.table_entry
    expect(hex(encodeRow(tableEntryValues(t)))).toBe(t.encoding)
    expect(hex(leafHash(Buffer.from(t.encoding, 'hex')))).toBe(t.leaf_hash)
  })

  it('give the worked checkpoint: text, key IDs, verifier keys, and signatures that verify', async () => {
    const alice = fixtureKey('alice')
    const carol = fixtureKey('carol')
    const c = v.checkpoint
    expect(checkpointText({ chainId: v.example_tree.chain_id, size: 6, root: Buffer.from(v.example_tree.root, 'hex'), tip: 8, maxReorgDepth: 2 })).toBe(c.text)
    expect(await signatoryVkey(v.example_tree.chain_id, alice)).toBe(c.signatory_vkey)
    expect(await witnessVkey(c.witness_name as string, carol)).toBe(c.witness_vkey)
    expect(c.signatory?.slice(2, 10)).toBe(c.signatory_key_id)
    expect(doc).toContain(c.note)
    const n = parseNote(c.note as string)
    if ('error' in n) throw new Error(n.error)
    expect(n.note.text).toBe(c.text)
    const sk = await parseVkey(c.signatory_vkey as string)
    const wk = await parseWitnessKey(c.witness_vkey as string)
    if (typeof sk === 'string' || typeof wk === 'string') throw new Error('bad vkey')
    const [s, w] = n.note.signatures
    expect(keyIdHex(s?.keyId ?? 0)).toBe(c.signatory_key_id)
    expect(keyIdHex(w?.keyId ?? 0)).toBe(c.witness_key_id)
    expect((await verifyNoteSignature(sk, n.note.text, s as never)).ok).toBe(true)
    expect(await verifyNoteSignature(wk, n.note.text, w as never)).toEqual({ ok: true, time: BigInt(c.witness_time) })
  })
})
