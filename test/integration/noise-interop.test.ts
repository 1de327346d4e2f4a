// The native ChaCha20-Poly1305 (src/network/noise-crypto.ts) changes nothing on the wire: a Petal
// node that encrypts and decrypts noise messages through OpenSSL and one with @libp2p/noise's own
// crypto (a build without the addon: PETAL_NATIVE_SHA256=0 when its libp2p node is made) pull a
// chain from each other over loopback libp2p, blocks of ~100 KB (messages of 65,535 bytes that
// span socket reads, decrypted in place) and the final verify passing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { resetNativeOpenssl } from '../../src/crypto/openssl-native.js'
import { pull, type PetalNode } from '../../src/node/index.js'
import { nativeNoiseMessages, noiseCrypto } from '../../src/network/noise-crypto.js'
import { fixtureKey, extendChain, newTestChain } from '../helpers/chain.js'
import { nativeOpensslBuilt } from '../helpers/native-build.js'
import { addrOf, fastOptions, startNode, stopAll, testLogger } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'

const BLOCKS = 6
const native = nativeOpensslBuilt() && process.env.PETAL_NATIVE_SHA256 !== '0'
const switchBefore = process.env.PETAL_NATIVE_SHA256

/** Run `f` as a Petal without the native addon would (noise's own crypto for the libp2p nodes it makes). */
async function withoutAddon<T> (f: () => Promise<T>): Promise<T> {
  process.env.PETAL_NATIVE_SHA256 = '0'
  resetNativeOpenssl()
  try {
    expect(noiseCrypto().native).toBe(false)
    return await f()
  } finally {
    if (switchBefore === undefined) delete process.env.PETAL_NATIVE_SHA256
    else process.env.PETAL_NATIVE_SHA256 = switchBefore
    resetNativeOpenssl()
  }
}

let nativeSource: PetalNode
let stockSource: PetalNode
let tip: { height: number, hash: string }

beforeAll(async () => {
  const alice = fixtureKey('alice')
  const { chain, dir } = await newTestChain({ key: alice })
  await extendChain(chain, alice, BLOCKS, 8_000)
  tip = { height: chain.tip().height, hash: chain.tip().hash }
  chain.close()
  nativeSource = await startNode(dir, { name: 'native source', discovery: false })
  // The same chain served by a node with noise's own crypto: pulled from the first one, then started.
  const stockDir = join(tmpDir(), 'stock-source')
  await withoutAddon(async () => pull({ dir: stockDir, from: addrOf(nativeSource), genesis: nativeSource.chain.chainId, logger: testLogger('pull'), ...fastOptions({ discovery: false }) }))
  stockSource = await withoutAddon(async () => startNode(stockDir, { name: 'stock source', discovery: false }))
}, 180_000)

afterAll(stopAll)

describe('noise with the native cipher against noise\'s own crypto', () => {
  it('a Petal with the native cipher pulls from one with noise\'s own crypto, and the other way round', async () => {
    expect(stockSource.chain.tip().hash).toBe(tip.hash)
    const before = nativeNoiseMessages()
    const r = await pull({ dir: join(tmpDir(), 'native-pulls-stock'), from: addrOf(stockSource), genesis: stockSource.chain.chainId, logger: testLogger('pull'), ...fastOptions({ discovery: false }) })
    expect(r.verify.ok).toBe(true)
    expect({ height: r.height, hash: r.hash }).toEqual(tip)
    const after = nativeNoiseMessages()
    if (native) {
      // ~100 KB blocks in 65,535-byte messages: at least two a block opened by the native cipher.
      expect(after.opened - before.opened).toBeGreaterThan(2 * BLOCKS)
      expect(after.sealed - before.sealed).toBeGreaterThan(0)
    }
    const back = await withoutAddon(async () => pull({ dir: join(tmpDir(), 'stock-pulls-native'), from: addrOf(nativeSource), genesis: nativeSource.chain.chainId, logger: testLogger('pull'), ...fastOptions({ discovery: false }) }))
    expect(back.verify.ok).toBe(true)
    expect({ height: back.height, hash: back.hash }).toEqual(tip)
    if (native) expect(nativeNoiseMessages().sealed - after.sealed).toBeGreaterThan(2 * BLOCKS)
  }, 180_000)
})
