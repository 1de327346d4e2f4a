import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Chain, importBlock } from '../../../src/chain/index.js'
import type { Network } from '../../../src/network/index.js'
import { CheckpointDuty } from '../../../src/node/checkpoint-duty.js'
import { readSeal } from '../../../src/storage/index.js'
import { nullLogger } from '../../../src/util/index.js'
import { extendChain, fixtureKey, keyOpBlock, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')
afterEach(() => { vi.useRealTimers() })

/**
 * A duty signing with bob's key that has signed and gossiped the tip's checkpoints (`notes`); it
 * records what it gossips next (`sent`), `gossip` runs it with the clock 6 s on (past the 5 s regossip).
 */
async function bobsDuty (chain: Chain): Promise<{ notes: string[], sent: string[], gossip: () => Promise<void> }> {
  const sent: string[] = []
  const network = { publishCheckpoint: async (n: string) => { sent.push(n); return 1 } } as unknown as Network
  vi.useFakeTimers({ toFake: ['Date'] })
  const duty = new CheckpointDuty(chain, network, { signingKey: bob }, nullLogger, () => true)
  const signal = new AbortController().signal
  await duty.signTip(signal)
  const notes = sent.splice(0)
  expect(notes.length).toBeGreaterThan(0)
  return { notes, sent, gossip: async () => { vi.setSystemTime(Date.now() + 6_000); await duty.signTip(signal) } }
}

// Until session 49 a node kept the last checkpoints it signed and gossiped them every 5 s for
// good: after its key was revoked (no peer accepts them: no active signatory's line) and after a
// reorg abandoned their branch (no peer's tree has their root). It gossips only notes it would
// itself accept at its tip.
describe('a signatory node\'s checkpoint gossip', () => {
  it('stops when its key is revoked at the tip', async () => {
    const { chain } = await newTestChain({ key: alice })
    await keyOpBlock(chain, alice, 'A', bob)
    await extendChain(chain, bob, 1)
    const { notes, sent, gossip } = await bobsDuty(chain)
    // Again every 5 s while the tip stands still.
    await gossip()
    expect(sent.splice(0)).toEqual(notes)
    await keyOpBlock(chain, alice, 'R', bob)
    await gossip()
    expect(sent).toEqual([])
    chain.close()
  })

  it('stops gossiping notes of a branch a reorg abandoned for one where its key is revoked', async () => {
    const { chain: a, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 10 } })
    await keyOpBlock(a, alice, 'A', bob)
    a.close()
    const other = join(tmpDir(), 'b')
    cpSync(dir, other, { recursive: true })
    const chain = Chain.open(dir)
    const b = Chain.open(other)
    await extendChain(chain, bob, 1)
    await keyOpBlock(b, alice, 'R', bob)
    await extendChain(b, alice, 1)
    const { sent, gossip } = await bobsDuty(chain)
    for (const h of [2, 3]) {
      const p = b.dir.blockPath(h)
      await importBlock(chain, p, readSeal(p))
    }
    expect(chain.tip().hash).toBe(b.tip().hash)
    await gossip()
    expect(sent).toEqual([])
    chain.close()
    b.close()
  })
})
