import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { findCheckpoint, parseTrustFile, parseWitnessKey, proveRows, readCheckpointNote, signatoryVkey, verifyProof, witnessKeyOf } from '../../src/proof/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll, waitConverged } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

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
    const a = await startNode(dir, { name: 'A', key: alice, ingest: false as const })
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

    // The signatory keeps the cosigned note it receives back.
    await waitFor(() => a.chain.index.checkpoints.list({ minSize: 2, maxSize: 2 }).some(r => r.source.startsWith('peer ') && r.note.includes(witness.name)), { what: 'the signatory to keep the cosigned checkpoint' })
  })
})
