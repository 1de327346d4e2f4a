// A range's blocks of 128 KiB to 2 MiB are not hashed by the receive: their checks on a load
// thread hash the bytes they read (docs/performance/pull.md, "Session 51: the download's SHA-256 on
// the load thread (pull51)"). A peer that sends another block's bytes must still be refused with
// TRANSFER_HASH_MISMATCH and dropped, and nothing of those bytes placed.
import { afterAll, describe, expect, it } from 'vitest'
import { cpSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, signImport } from '../../src/chain/index.js'
import { pull } from '../../src/node/index.js'
import { createLogger, type LogRecord } from '../../src/util/index.js'
import { extendChain, fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { startEvilPeer, type EvilPeer } from '../helpers/evil.js'
import { fastOptions } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'

const evils: EvilPeer[] = []
afterAll(async () => {
  await Promise.all(evils.map(async e => { await e.stop() }))
})

describe('a range block left to its checks to hash', () => {
  it('is refused with TRANSFER_HASH_MISMATCH when its bytes are another valid block\'s, its peer dropped, nothing of it placed', async () => {
    const alice = fixtureKey('alice')
    const { chain, dir } = await newTestChain({ key: alice })
    // Blocks of a few hundred KiB: above the receive's small-block path, below a map's 2 MiB.
    await extendChain(chain, alice, 1, 20_000)
    const atOne = join(tmpDir(), 'at-one')
    cpSync(dir, atOne, { recursive: true })
    await extendChain(chain, alice, 2, 20_000)
    const real = chain.index.range(1, 3)
    const liarDir = join(tmpDir(), 'liar')
    cpSync(dir, liarDir, { recursive: true })
    chain.close()
    // A sibling of block 2: as valid (same parent, signed by the chain's signatory), another hash.
    const sib = Chain.open(atOne)
    const sibling = (await signImport(sib, makeSqlite(join(tmpDir(), 'sibling.db'), 20_000, 99), alice)).block
    const siblingFile = sib.pathOf(sibling)
    sib.close()
    expect(sibling.height).toBe(2)
    expect(sibling.size).toBeGreaterThan(128 * 1024)
    const r2 = real[1] as NonNullable<typeof real[1]>
    expect(sibling.hash).not.toBe(r2.hash)

    // The liar serves the real chain, but the sibling's bytes (and size) for block 2.
    const liar = await startEvilPeer(liarDir, [], honest => ({
      ...honest,
      openBlock: h => h === r2.hash ? { fd: openSync(siblingFile, 'r'), size: sibling.size, seal: r2.seal } : honest.openBlock(h)
    }))
    evils.push(liar)
    const logs: LogRecord[] = []
    const pulled = join(tmpDir(), 'pulled')
    // With its only peer dropped the pull would wait for others until its stall timeout: stopped once it gave up on that peer.
    const stop = new AbortController()
    const logger = createLogger(r => { logs.push(r); if (r.message === 'could not sync from peer') stop.abort() }, 'debug')
    const err: unknown = await pull({ dir: pulled, from: liar.network.listenAddrs()[0] as string, logger, signal: stop.signal, ...fastOptions() }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeDefined()
    // Refused as the transfer refuses wrong bytes, and the peer dropped for it.
    expect(logs.some(r => r.message === 'block download failed' && r.context?.code === 'TRANSFER_HASH_MISMATCH' && r.context.height === 2)).toBe(true)
    expect(logs.some(r => r.message === 'dropped misbehaving peer' && r.context?.offence === 'hash-mismatch')).toBe(true)
    // Nothing of the sibling placed: the pulled chain stops below block 2.
    const got = Chain.open(pulled)
    try {
      expect(got.index.byHash(sibling.hash)).toBeUndefined()
      expect(got.tip().height).toBeLessThan(2)
    } finally {
      got.close()
    }
  }, 120_000)
})
