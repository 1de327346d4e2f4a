import { describe, expect, it } from 'vitest'
import type { Chain } from '../../../src/chain/index.js'
import {
  addCosignature, addWitness, cosignCheckpoint, findCheckpoint, keepReceivedCheckpoint, parseTrustFile, parseWitnessKey, proveRows, removeWitness,
  servedCheckpoints, signatoryVkey, signTipCheckpoints, storedTipCheckpoints, verifyProof, witnessKeyOf
} from '../../../src/proof/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'

const alice = fixtureKey('alice')
const w1 = { name: 'witness.example/w1', key: fixtureKey('carol') }
const w2 = { name: 'witness.example/w2', key: fixtureKey('bob') }
const w3 = { name: 'witness.example/w3', key: fixtureKey('dave') }
const T = 1_700_000_000

async function verifyWith (chain: Chain, witnesses: Array<typeof w1>): Promise<{ ok: boolean, code?: string }> {
  const keys = await parseTrustFile(new TextEncoder().encode(await signatoryVkey(chain.chainId, alice)))
  if (typeof keys === 'string') throw new Error(keys)
  const ws = await Promise.all(witnesses.map(async w => await parseWitnessKey(await witnessKeyOf(w))))
  const proof = JSON.stringify(await proveRows(chain, { height: 1, table: 't', rows: [{ rowid: 2n }], final: true }))
  const r = await verifyProof(proof, { ...keys, witnesses: ws.map(w => { if (typeof w === 'string') throw new Error(w); return w }) }, { requireFinal: true })
  return { ok: r.ok, code: r.failure?.code }
}

// docs/proofs.md, "Which cosignatures a node keeps": a witness struck from `witnesses` is vouched
// for no more (no proof, answer or gossip carries its line), and its stored lines stay, so that it
// counts again once listed again. Until session 54 they were dropped whenever another line of the
// same checkpoint merged (a peer's cosignature, a witness's own), and kept otherwise.
describe('a witness struck from the witnesses file', () => {
  for (const merge of ['another witness\'s cosignature from a peer', 'this node\'s own cosignature as a witness'] as const) {
    it(`leaves proofs, answers and gossip, and counts again when listed again, though ${merge} merged meanwhile`, async () => {
      const { chain, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 1 } })
      await extendChain(chain, alice, 2, 2)
      const final = (await signTipCheckpoints(chain, alice))[1] as string
      for (const w of [w1, w2]) expect(typeof await addWitness(dir, await witnessKeyOf(w))).toBe('object')
      expect(await keepReceivedCheckpoint(chain, addCosignature(final, w1, T), 'p')).toBe(true)
      expect(await verifyWith(chain, [w1])).toEqual({ ok: true, code: undefined })
      expect((await removeWitness(dir, w1.name)).map(w => w.name)).toEqual([w1.name])
      const without = (n: string | undefined): boolean => n !== undefined && !n.includes(`— ${w1.name} `)
      expect(without(findCheckpoint(chain, { final: true })?.note)).toBe(true)
      expect(servedCheckpoints(chain, chain.tip().height + 1).every(without)).toBe(true)
      expect(storedTipCheckpoints(chain, alice).every(without), 'the signatory\'s regossip').toBe(true)
      expect(await verifyWith(chain, [w1])).toMatchObject({ ok: false, code: 'WITNESS_MISSING' })
      // Another line of the same checkpoint reaches this node.
      if (merge === 'another witness\'s cosignature from a peer') expect(await keepReceivedCheckpoint(chain, addCosignature(final, w2, T), 'q')).toBe(true)
      else expect(await cosignCheckpoint(chain, final, w3)).toSatisfy(without)
      expect(without(findCheckpoint(chain, { final: true })?.note)).toBe(true)
      expect(storedTipCheckpoints(chain, alice).every(without)).toBe(true)
      // Listed again (its operator struck it by mistake): its cosignature counts again.
      expect(typeof await addWitness(dir, await witnessKeyOf(w1))).toBe('object')
      expect(findCheckpoint(chain, { final: true })?.note).toContain(`— ${w1.name} `)
      expect(await verifyWith(chain, merge === 'another witness\'s cosignature from a peer' ? [w1, w2] : [w1, w3])).toEqual({ ok: true, code: undefined })
      chain.close()
    })
  }
})
