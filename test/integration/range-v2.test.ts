// The `blocks/2.0.0` range protocol (session 51): up to LIMITS.maxRangeBlocks2 blocks a request,
// the same frames as 1.0.0, which a node still serves. A requester uses 2.0.0 with a peer whose
// identify listed it, and keeps to 1.0.0's 32 with a peer that lists 1.0.0 alone (an older node).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Chain } from '../../src/chain/index.js'
import { sha256File } from '../../src/crypto/index.js'
import { decodeJson, encodeJson, LIMITS } from '../../src/network/index.js'
import { rangeProtocolId } from '../../src/network/constants.js'
import type { PetalNode } from '../../src/node/index.js'
import { extendChain, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const BLOCKS = 40 // more than one range of 1.0.0
let a: PetalNode
let hashes: string[]

beforeAll(async () => {
  const { chain, key, dir } = await newTestChain()
  await extendChain(chain, key, BLOCKS, 2)
  hashes = Array.from({ length: BLOCKS }, (_, i) => (chain.get(i + 1) as NonNullable<ReturnType<Chain['get']>>).hash)
  chain.close()
  a = await startNode(dir, { name: 'A', discovery: false })
}, 120_000)

afterAll(async () => { await stopAll() })

const items = (hs: string[]): Array<{ hash: string, dest: string }> => { const d = tmpDir(); return hs.map((hash, i) => ({ hash, dest: join(d, `${i}.db`) })) }

describe('blocks/2.0.0 (range requests of up to 128 blocks)', () => {
  it('serves a range of more than 32 blocks on 2.0.0 to a peer that learnt it from identify', async () => {
    const b = await startNode(await cloneGenesis(a.chain), { name: 'B', bootstrap: [addrOf(a)], discovery: false })
    await waitFor(() => b.network.servesRanges(a.network.peerId), { what: 'B to learn that A serves ranges' })
    expect(b.network.rangeMax(a.network.peerId)).toBe(LIMITS.maxRangeBlocks2)
    const asked = items(hashes)
    const got: number[] = []
    await b.network.fetchBlocks(a.network.peerId, asked, { maxBytes: a.chain.params.maxBlockBytes, onBlock: i => { got.push(i) } })
    expect(got).toEqual(hashes.map((_, i) => i))
    expect(await Promise.all(asked.map(async x => await sha256File(x.dest)))).toEqual(hashes)
    // 1.0.0 still takes at most 32, 2.0.0 at most 128 (each on a stream of its own; the reply to a
    // malformed request is none: the stream ends, and the requester is dropped, so B asks no more).
    const ask = async (version: 1 | 2, n: number): Promise<unknown> => {
      const stream = await b.network.libp2p.dialProtocol(multiaddr(addrOf(a)), rangeProtocolId(a.chain.chainId, version))
      const lp = lpStream(stream)
      await lp.write(encodeJson({ hashes: Array.from({ length: n }, (_, i) => hashes[i] ?? i.toString(16).padStart(64, '0')) }))
      return decodeJson((await lp.read()).subarray(), LIMITS.blockResponseMeta, 'reply')
    }
    expect(await ask(1, LIMITS.maxRangeBlocks)).toMatchObject({ ok: true })
    await expect(ask(1, LIMITS.maxRangeBlocks + 1)).rejects.toThrow()
  }, 120_000)

  it('keeps to 1.0.0 and its 32 blocks with a peer that does not list 2.0.0 (an older node)', async () => {
    await a.network.libp2p.unhandle(rangeProtocolId(a.chain.chainId, 2))
    const c = await startNode(await cloneGenesis(a.chain), { name: 'C', bootstrap: [addrOf(a)], discovery: false })
    await waitFor(() => c.network.servesRanges(a.network.peerId), { what: 'C to learn that A serves ranges' })
    expect(c.network.rangeMax(a.network.peerId)).toBe(LIMITS.maxRangeBlocks)
    const asked = items(hashes.slice(0, LIMITS.maxRangeBlocks))
    const got: number[] = []
    await c.network.fetchBlocks(a.network.peerId, asked, { maxBytes: a.chain.params.maxBlockBytes, onBlock: i => { got.push(i) } })
    expect(got).toHaveLength(LIMITS.maxRangeBlocks)
    // C's sync reaches A's tip through ranges of 1.0.0.
    await waitFor(() => c.chain.tip().height === BLOCKS ? true : undefined, { what: 'C to catch up', timeout: 60_000 })
    expect(a.network.scores.score(c.network.peerId)).toBe(0)
  }, 120_000)
})
