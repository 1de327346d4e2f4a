import { afterAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findCheckpoint, parseTrustFile, parseWitnessKey, proveRows, readCheckpointNote, signatoryVkey, verifyProof, witnessKeyOf, WITNESSES_FILE } from '../../src/proof/index.js'
import { formatNote, parseNote } from '../../src/proof/verifier/index.js'
import { createLogger } from '../../src/util/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll, waitConverged } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

/** `note` with the line of witness `name` forged: one byte of its signature flipped. */
function forgeLine (note: string, name: string): string {
  const n = parseNote(note)
  if ('error' in n) throw new Error(n.error)
  return formatNote({ text: n.note.text, signatures: n.note.signatures.map(s => s.name !== name ? s : { ...s, signature: s.signature.map((b, i) => i === s.signature.length - 5 ? b ^ 1 : b) }) })
}

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')
const carol = fixtureKey('carol')

describe('a witness node', () => {
  it('cosigns the signatory\'s gossiped checkpoints; proofs demanding its cosignature verify, with another witness they do not', async () => {
    // max_reorg_depth 1: a block is final once another is on top of it (witnesses cosign final checkpoints only).
    const { chain, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 1 } })
    const wDir = await cloneGenesis(chain)
    const chainId = chain.chainId
    chain.close()
    const witness = { name: 'witness.example/w1', key: bob }
    // A lists the witness (docs/proofs.md "Which cosignatures a node keeps"): it keeps and passes on
    // only the cosignatures it verified.
    writeFileSync(join(dir, WITNESSES_FILE), `${await witnessKeyOf(witness)}\n`)
    const warnings: string[] = []
    const a = await startNode(dir, { name: 'A', key: alice, ingest: false as const, logger: createLogger(r => { warnings.push(r.message) }, 'warn') })
    const w = await startNode(wDir, { name: 'W', bootstrap: [addrOf(a)], witness, ingest: false as const })
    await waitFor(() => a.network.subscribers().includes(w.peerId), { what: 'the witness to join the gossip' })
    await a.publish(makeSqlite(join(tmpDir(), 'x.db'), 4, 1))
    await a.publish(makeSqlite(join(tmpDir(), 'y.db'), 4, 2))
    await waitConverged([a, w], { height: 2 })
    const cosigned = await waitFor(() => {
      const c = findCheckpoint(w.chain, { height: 1, final: true })
      return c !== undefined && readCheckpointNote(c.note).note.signatures.some(s => s.name === witness.name) ? c : undefined
    }, { what: 'the witness to cosign a checkpoint of height 1' })
    expect(cosigned.source).toBe('witness')

    const keys = await parseTrustFile(new TextEncoder().encode(await signatoryVkey(chainId, alice)))
    const wKey = await parseWitnessKey(await witnessKeyOf(witness))
    const other = await parseWitnessKey(await witnessKeyOf({ name: 'witness.example/w2', key: carol }))
    if (typeof keys === 'string' || typeof wKey === 'string' || typeof other === 'string') throw new Error('bad key')
    const proof = JSON.stringify(await proveRows(w.chain, { height: 1, table: 't', rows: [{ rowid: 2n }], final: true }))
    const ok = await verifyProof(proof, { ...keys, witnesses: [wKey] }, { requireFinal: true })
    expect(ok.ok, ok.failure?.message).toBe(true)
    expect(ok.signatures.map(s => [s.kind, s.status])).toEqual([['signatory', 'valid'], ['witness', 'valid']])
    const missing = await verifyProof(proof, { ...keys, witnesses: [other] })
    expect(missing.failure?.code).toBe('WITNESS_MISSING')

    // The signatory keeps the cosigned note it receives back, in the row of its own note (one row a
    // checkpoint text since session 52: CheckpointTable.keep).
    await waitFor(() => a.chain.index.checkpoints.list({ minSize: 2, maxSize: 2 }).some(r => r.source === 'self' && r.note.includes(witness.name)), { what: 'the signatory to keep the cosigned checkpoint' })
    const proveOnA = async (): Promise<string> => JSON.stringify(await proveRows(a.chain, { height: 1, table: 't', rows: [{ rowid: 2n }], final: true }))
    expect((await verifyProof(await proveOnA(), { ...keys, witnesses: [wKey] }, { requireFinal: true })).ok).toBe(true)

    // A hostile peer gossips the cosigned checkpoint with the witness's line forged (its name and key
    // ID are public). Until session 50 A kept that as the latest note of the checkpoint, and every
    // proof it built failed `verify-proof --witness` with COSIGNATURE_INVALID.
    const hDir = await cloneGenesis({ params: a.chain.params, genesisFile: a.chain.dir.blockPath(0) })
    const h = await startNode(hDir, { name: 'H', bootstrap: [addrOf(a)], ingest: false as const })
    await waitConverged([a, h], { height: 2 })
    await waitFor(() => a.network.subscribers().includes(h.peerId), { what: 'the hostile peer to join the gossip' })
    const forged = forgeLine(cosigned.note, witness.name)
    await waitFor(async () => (await h.network.publishCheckpoint(forged)) > 0, { what: 'the hostile peer to gossip the forged note' })
    await waitFor(() => warnings.some(m => m.startsWith('dropped a cosignature')) || a.chain.index.checkpoints.list().some(r => r.source === `peer ${h.peerId}`), { what: 'A to receive the forged note' })
    const after = await verifyProof(await proveOnA(), { ...keys, witnesses: [wKey] }, { requireFinal: true })
    expect(after.ok, after.failure?.message).toBe(true)
    expect(a.chain.index.checkpoints.list().filter(r => r.note.includes(forged.slice(-40)))).toEqual([])
  })
})
