import { afterAll, describe, expect, it } from 'vitest'
import { askCheckpoints } from '../../src/node/checkpoint-ask.js'
import { protocolId } from '../../src/network/index.js'
import { checkpointText, findCheckpoint, signCheckpoint, storedChainTree, treeRoot } from '../../src/proof/index.js'
import { extendChain, fixtureKey, newTestChain } from '../helpers/chain.js'
import { startEvilPeer, type EvilPeer } from '../helpers/evil.js'
import { addrOf, cloneGenesis, startNode, stopAll } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'
import { createLogger, type LogRecord } from '../../src/util/index.js'

const alice = fixtureKey('alice')
const evil: EvilPeer[] = []
afterAll(async () => { await Promise.all(evil.map(async e => { await e.stop() })); await stopAll() })

// A peer's answer to a `checkpoints` request (docs/protocol.md) is judged as gossip is
// (docs/proofs.md, "Asking a peer"): a hostile answer is refused and its sender scored down
// (these all ban it at once); an honest one is kept with the peer as its source; a peer that does
// not speak the protocol (an older Petal) is no offence.
describe('asking a peer for its checkpoints', () => {
  it('refuses and scores a bad signature, another chain, an oversized answer and a tree larger than asked; keeps an honest one', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    const eDir = await cloneGenesis(chain)
    await extendChain(chain, alice, 2)
    const size = storedChainTree(chain).size
    const note = (o: { chainId?: string, size?: number, root?: Uint8Array, tip?: number } = {}): string => signCheckpoint(checkpointText({
      chainId: o.chainId ?? chain.chainId, size: o.size ?? size, root: o.root ?? treeRoot(storedChainTree(chain), o.size ?? size), tip: o.tip ?? size - 1, maxReorgDepth: chain.params.maxReorgDepth
    }), [alice])
    const honest = note({ tip: size + 7 })
    // A valid note's text with the signature line of another text: well formed, badly signed.
    const otherSig = note({ root: new Uint8Array(32) }).split('\n\n')[1] ?? ''
    // Each answer, and the offence it is scored for (docs/protocol.md, "Peer scoring").
    const answers: Record<string, [string[], string]> = {
      'bad signature': [[`${honest.split('\n\n')[0] ?? ''}\n\n${otherSig}`], 'bad-seal'],
      'another chain': [[note({ chainId: 'ab'.repeat(32), root: new Uint8Array(32) })], 'bad-seal'],
      'a note over 8 KiB': [['x'.repeat(9000)], 'oversized'],
      // Each \u0001 is six bytes in JSON: 56,000 in all.
      'a reply over 32 KiB': [['y'.repeat(8000), '\u0001'.repeat(8000)], 'oversized'],
      'a tree larger than the reader\'s': [[note({ size: size + 3, root: new Uint8Array(32).fill(7), tip: size + 9 })], 'malformed']
    }
    chain.close()
    // A follower (no key): it asks each peer when it connects.
    const drops: LogRecord[] = []
    const logger = createLogger(r => { if (r.message === 'dropped misbehaving peer') drops.push(r) }, 'warn')
    const f = await startNode(dir, { name: 'F', ingest: false as const, discovery: false, logger })
    for (const [what, [notes, offence]] of Object.entries(answers)) {
      const e = await startEvilPeer(eDir, [addrOf(f)], s => ({ ...s, checkpoints: () => notes }))
      evil.push(e)
      await waitFor(() => f.network.scores.isBanned(e.network.peerId), { what: `F to ban the peer that sent ${what}`, timeout: 20_000 })
      expect(drops.filter(d => d.context?.peer === e.network.peerId).map(d => [d.context?.offence, d.context?.detail]), what).toEqual([[offence, expect.stringContaining('checkpoints')]])
      await e.stop()
    }
    expect(f.chain.index.checkpoints.list().filter(c => c.source !== 'self')).toEqual([])

    // Honest: kept, with the peer as its source; asked again, nothing new and no blame.
    const e = await startEvilPeer(eDir, [addrOf(f)], s => ({ ...s, checkpoints: () => [honest] }))
    evil.push(e)
    const kept = await waitFor(() => f.chain.index.checkpoints.list().find(c => c.note === honest), { what: 'F to keep the honest checkpoint' })
    expect(kept.source).toBe(`peer ${e.network.peerId}`)
    expect(findCheckpoint(f.chain, { height: size - 1 })?.size).toBe(size)
    expect(await askCheckpoints(f.chain, f.network, e.network.peerId, { logger: f.chain.logger })).toMatchObject({ received: 1, kept: 0, accepted: 1 })
    expect(f.network.scores.score(e.network.peerId)).toBe(0)

    // An older node: it does not speak the protocol. Nothing kept, nobody blamed.
    await e.network.libp2p.unhandle(protocolId(chain.chainId, 'checkpoints'))
    const r = await askCheckpoints(f.chain, f.network, e.network.peerId, { logger: f.chain.logger })
    expect(r).toMatchObject({ unsupported: true, received: 0 })
    expect(f.network.scores.score(e.network.peerId)).toBe(0)
  }, 90_000)
})
