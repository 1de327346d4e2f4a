import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  addCosignature, judgeCheckpoint, judgeGossipedCheckpoint, readCheckpointNote, signCheckpoint, signTipCheckpoints, witnessKeyOf, WITNESSES_FILE
} from '../../../src/proof/index.js'
import { formatNote } from '../../../src/proof/verifier/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'

// Gossip's judge since session 51 (docs/proofs.md, "Which cosignatures a node keeps"): the verdict
// judgeCheckpoint gives, in one pass that also gives the lines the node verified, which is what it
// forwards.

const alice = fixtureKey('alice')
const mallory = fixtureKey('bob')
const w1 = { name: 'witness.example/w1', key: fixtureKey('carol') }
const T = 1_700_000_000

describe('judgeGossipedCheckpoint', () => {
  it('gives judgeCheckpoint\'s verdict, and the verified lines of an accepted note', async () => {
    const { chain, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 1 } })
    await extendChain(chain, alice, 2, 2)
    const final = (await signTipCheckpoints(chain, alice))[1] ?? ''
    writeFileSync(join(dir, WITNESSES_FILE), await witnessKeyOf(w1))
    const { note } = readCheckpointNote(final)
    // One byte of the signatory's signature flipped (its key ID kept).
    const flipped = formatNote({ text: note.text, signatures: note.signatures.map(l => ({ ...l, signature: l.signature.map((b, i) => i === l.signature.length - 5 ? b ^ 1 : b) })) })
    const bigger = signCheckpoint(note.text.replace(/^(\d+)$/mu, n => String(Number(n) + 5)).replace(/^tip (\d+)/mu, (_, t: string) => `tip ${Number(t) + 5}`), [alice])
    const cosigned = addCosignature(final, w1, T)
    const junk = '— junk.example/x AAAAAAA=\n'
    const cases: Array<[string, string, string, string | undefined]> = [
      ['the signatory\'s note', final, 'accept', final],
      ['cosigned by a listed witness', cosigned, 'accept', cosigned],
      ['with a junk line', cosigned + junk, 'accept', cosigned],
      ['with a line of a witness not listed', addCosignature(final, { name: 'w.example/2', key: mallory }, T), 'accept', final],
      ['with the signatory\'s line damaged', flipped, 'reject', undefined],
      ['signed by a key that is no signatory', signCheckpoint(note.text, [mallory]), 'ignore', undefined],
      ['of a tree larger than the node\'s', bigger, 'ignore', undefined],
      ['of another chain', final.replace(/petal\/[0-9a-f]{4}/u, 'petal/0000'), 'reject', undefined],
      ['not a note', 'hello\n', 'reject', undefined]
    ]
    for (const [what, n, verdict, verified] of cases) {
      expect(judgeCheckpoint(chain, n), what).toBe(verdict)
      expect(judgeGossipedCheckpoint(chain, n), what).toEqual(verified === undefined ? { verdict } : { verdict, verified })
    }
    chain.close()
  })
})
