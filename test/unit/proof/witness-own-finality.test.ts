import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { Chain, importBlock } from '../../../src/chain/index.js'
import type { Network } from '../../../src/network/index.js'
import { CheckpointDuty } from '../../../src/node/checkpoint-duty.js'
import { cosignCheckpoint, keepReceivedCheckpoint, readCheckpointNote, signTipCheckpoints } from '../../../src/proof/index.js'
import { readSeal } from '../../../src/storage/index.js'
import { nullLogger } from '../../../src/util/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')
const w = { name: 'witness.example/w', key: fixtureKey('carol') }

/** Three data directories of one chain (alice's, max_reorg_depth 2), 2 blocks long: a signatory's, a witness's, a rival branch's. */
async function threeCopies (): Promise<{ s: Chain, wit: Chain, r: Chain }> {
  const { chain, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 2 } })
  await extendChain(chain, alice, 2, 2)
  chain.close()
  const copy = (name: string): Chain => { const d = join(tmpDir(), name); cpSync(dir, d, { recursive: true }); return Chain.open(d) }
  return { s: Chain.open(dir), wit: copy('w'), r: copy('r') }
}

/** Place `from`'s canonical blocks `lo`…`hi` on `to`, as a peer's would be. */
async function placeFrom (to: Chain, from: Chain, lo: number, hi: number): Promise<void> {
  for (let h = lo; h <= hi; h++) {
    const p = from.dir.blockPath(h)
    await importBlock(to, p, readSeal(p))
  }
}

/** The final note (the smaller size) alice signs at `chain`'s tip. */
async function finalNote (chain: Chain): Promise<string> {
  const notes = await signTipCheckpoints(chain, alice)
  const final = notes.find(n => readCheckpointNote(n).checkpoint.final)
  if (final === undefined) throw new Error('no final checkpoint signed')
  return final
}

// docs/proofs.md, "Witness cosignatures": a witness cosigns a checkpoint only when it is final by
// its signer's tip line and at the witness's own tip. Until session 54 the signer's line alone: a
// witness behind cosigned a tree its own chain could still leave, and then refused every later
// checkpoint for good ("the chain no longer contains the last checkpoint this witness cosigned").
describe('a witness behind the signatory', () => {
  it('does not cosign a tree that is not final on its own chain, so a reorg of its chain leaves it able to cosign the new history', async () => {
    const { s, wit, r } = await threeCopies()
    // The signatory at tip 5 signs the final tree of size 4 (heights 0…3); the witness holds
    // block 3 (its tree has that size and root) but its tip is 3, so the tree is not final here.
    await extendChain(s, alice, 3, 3)
    await placeFrom(wit, s, 3, 3)
    const final4 = await finalNote(s)
    expect(readCheckpointNote(final4).checkpoint.size).toBe(4)
    expect(await keepReceivedCheckpoint(wit, final4, 'S')).toBe(true)
    expect(await cosignCheckpoint(wit, final4, w), 'not final at the witness\'s tip 3').toBeUndefined()
    // A longer branch forking below block 3 (a split: its blocks 3…6 are another history) reaches
    // the witness, which reorganises to it (one block abandoned, within max_reorg_depth).
    await extendChain(r, alice, 4, 4)
    await placeFrom(wit, r, 3, 6)
    expect(wit.tip().hash).toBe(r.tip().hash)
    // The witness cosigns that chain's final checkpoints: it never vouched for the tree it left.
    const final5 = await finalNote(r)
    expect(await keepReceivedCheckpoint(wit, final5, 'R')).toBe(true)
    expect(await cosignCheckpoint(wit, final5, w)).toContain(`— ${w.name} `)
    for (const c of [s, wit, r]) c.close()
  })

  it('cosigns the note it was sent while behind once its own chain has caught up (its sync goes idle)', async () => {
    const { s, wit, r } = await threeCopies()
    r.close()
    await extendChain(s, alice, 3, 3)
    await placeFrom(wit, s, 3, 3)
    const final4 = await finalNote(s)
    expect(await keepReceivedCheckpoint(wit, final4, 'S')).toBe(true)
    const sent: string[] = []
    const network = { publishCheckpoint: async (n: string) => { sent.push(n); return 1 }, connectedPeers: () => [] } as unknown as Network
    const duty = new CheckpointDuty(wit, network, { witness: w }, nullLogger, () => true)
    await duty.witness(final4)
    expect(sent, 'behind: nothing cosigned').toEqual([])
    // The witness places the signatory's blocks 4 and 5: size 4 is final at its tip now.
    await placeFrom(wit, s, 4, 5)
    duty.synced(new AbortController().signal)
    await vi.waitFor(() => { expect(sent).toHaveLength(1) })
    expect(readCheckpointNote(sent[0] as string).checkpoint.size).toBe(4)
    expect(sent[0]).toContain(`— ${w.name} `)
    s.close()
    wit.close()
  })
})
