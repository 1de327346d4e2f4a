import { afterAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { addWitness, findCheckpoint, proveRows, readCheckpointNote, signatoryVkey, witnessKeyOf } from '../../src/proof/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { hintOf, petalInProcess } from '../helpers/cli.js'
import { readNodeState } from '../../src/node/state-file.js'
import { addrOf, cloneGenesis, startNode, stopAll, waitConverged } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

const alice = fixtureKey('alice')
const witness = { name: 'witness.example/w1', key: fixtureKey('bob') }

// verify-proof's WITNESS_MISSING hint, done as it says: the node that made the proof lists the
// witness while it runs (`petal witnesses add`, no restart), and its proofs of the next checkpoint
// the witness cosigns carry the cosignature (docs/proofs.md, "Which cosignatures a node keeps").
describe('a witness listed while the node runs', () => {
  it('a proof refused for want of the witness says how to get one, and one made after listing it verifies', async () => {
    const { chain, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 1 } })
    const wDir = await cloneGenesis(chain)
    const chainId = chain.chainId
    chain.close()
    const work = tmpDir()
    const a = await startNode(dir, { name: 'A', key: alice, ingest: false as const })
    const w = await startNode(wDir, { name: 'W', bootstrap: [addrOf(a)], witness, ingest: false as const })
    await waitFor(() => a.network.subscribers().includes(w.peerId), { what: 'the witness to join the gossip' })
    const cosignedOn = async (height: number): Promise<void> => {
      await waitFor(() => {
        const c = findCheckpoint(w.chain, { height, final: true })
        return c !== undefined && readCheckpointNote(c.note).note.signatures.some(s => s.name === witness.name)
      }, { what: `the witness to cosign the checkpoint of height ${height}` })
    }
    await a.publish(makeSqlite(join(work, 'x.db'), 4, 1))
    await a.publish(makeSqlite(join(work, 'y.db'), 4, 2))
    await waitConverged([a, w], { height: 2 })
    await cosignedOn(1)

    const vkey = await witnessKeyOf(witness)
    const trust = join(work, 'alice.vkey')
    writeFileSync(trust, await signatoryVkey(chainId, alice))
    const verify = async (height: number): Promise<{ code: number, stderr: string }> => {
      const file = join(work, `proof-${height}.json`)
      writeFileSync(file, JSON.stringify(await proveRows(a.chain, { height, table: 't', rows: [{ rowid: 2n }], final: true })))
      return await petalInProcess(['verify-proof', file, '--trust', trust, '--witness', vkey, '--require-final'])
    }
    // A lists no witness: the cosigned checkpoint reached it without the cosignature it cannot check.
    const refused = await verify(1)
    expect(refused.code).toBe(6)
    expect(refused.stderr).toContain('has no valid cosignature by the witness witness.example/w1 [PROOF_REJECTED]')
    expect(hintOf(refused.stderr)).toContain('`petal witnesses add VKEY` on their node), from the next checkpoint the witness cosigns')

    // Done as the hint says, while A runs.
    expect(await addWitness(dir, vkey)).toMatchObject({ name: witness.name })
    await a.publish(makeSqlite(join(work, 'z.db'), 4, 3))
    await waitConverged([a, w], { height: 3 })
    await cosignedOn(2)
    await waitFor(() => findCheckpoint(a.chain, { height: 2, final: true })?.note.includes(`— ${witness.name} `), { what: 'A to keep the cosignature' })
    const ok = await verify(2)
    expect(ok.code, ok.stderr).toBe(0)
  })

  it('a witnesses file made malformed while the node runs is shown by `petal status`, until corrected', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    chain.close()
    const file = join(dir, 'witnesses')
    writeFileSync(file, `${await witnessKeyOf(witness)}\n`)
    await startNode(dir, { name: 'A', key: alice, ingest: false as const, stateEveryMs: 100 })
    writeFileSync(file, `${await witnessKeyOf(witness)}\nexample.org/w2+0000\n`)
    const problem = await waitFor(() => readNodeState(dir)?.witnesses_problem, { what: 'node-state.json to name the problem' })
    expect(problem).toBe(`${file} line 2: a verifier key has three parts: name+keyid+key`)
    const status = await petalInProcess(['--dir', dir, 'status'])
    expect(status.stdout).toContain(`witnesses   the witnesses file is not taken, the node keeps the list it read before: ${problem}`)
    writeFileSync(file, `${await witnessKeyOf(witness)}\n`)
    await waitFor(() => readNodeState(dir)?.witnesses_problem === undefined, { what: 'node-state.json to drop the problem' })
  })
})
