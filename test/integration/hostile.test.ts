import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyFileSync, fstatSync, openSync, statSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { signSeal } from '../../src/block/index.js'
import { Chain, signImport } from '../../src/chain/index.js'
import { generateSigningKey, sha256File } from '../../src/crypto/index.js'
import { announceTopic, encodeJson, headerOf, type WireHeader } from '../../src/network/index.js'
import type { PetalNode } from '../../src/node/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { startEvilPeer, type EvilPeer } from '../helpers/evil.js'
import { addrOf, cloneGenesis, startNode, stopAll, waitConverged } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const alice = fixtureKey('alice')
let a: PetalNode
let b: PetalNode
let genesis: { params: Chain['params'], genesisFile: string }
const evils: EvilPeer[] = []

beforeAll(async () => {
  const { chain, dir } = await newTestChain({ key: alice })
  chain.close()
  genesis = { params: chain.params, genesisFile: join(dir, '0000', 'block_00000000.db') }
  a = await startNode(dir, { name: 'A', key: alice })
  b = await startNode(await cloneGenesis(genesis), { name: 'B', bootstrap: [addrOf(a)] })
  await waitFor(() => a.network.connectedPeers().includes(b.peerId))
})

afterAll(async () => {
  await Promise.all(evils.map(async e => { await e.stop() }))
  await stopAll()
})

async function evil (hostile?: Parameters<typeof startEvilPeer>[2]): Promise<EvilPeer> {
  const e = await startEvilPeer(await cloneGenesis(genesis), [addrOf(a), addrOf(b)], hostile)
  evils.push(e)
  return e
}

/**
 * Both honest nodes have banned the peer and dropped its connections; it cannot come back.
 * `misbehave` is repeated until then: gossip is best effort, a message sent while a stream is
 * still being set up may be lost.
 */
async function expectDropped (e: EvilPeer, misbehave?: () => Promise<unknown>): Promise<void> {
  const id = e.network.peerId
  let last = 0
  await waitFor(async () => {
    if (misbehave !== undefined && Date.now() - last > 250) { last = Date.now(); await misbehave().catch(() => {}) }
    return [a, b].every(n => n.network.scores.isBanned(id) && !n.network.connectedPeers().includes(id))
  }, { what: 'the honest nodes to drop the peer' })
  await expect(e.network.status(a.peerId)).rejects.toBeDefined()
  expect(a.network.connectedPeers()).toContain(b.peerId)
}

/** Wait until the evil peer can gossip to both honest nodes. */
async function waitSubscribed (e: EvilPeer): Promise<void> {
  await waitFor(() => [a.peerId, b.peerId].every(p => e.network.subscribers().includes(p)), { what: 'the honest nodes to subscribe' })
}

describe('hostile peers', () => {
  it('drops a peer that announces a block with a forged seal', async () => {
    const e = await evil()
    await waitSubscribed(e)
    const g = a.chain.tip()
    const forger = generateSigningKey()
    const fake: WireHeader = { ...headerOf(g), hash: 'ab'.repeat(32), height: 1, parent: g.hash, signer: alice.id, seal: signSeal(forger, { chainId: g.hash, height: 1, rowsRoot: g.rowsRoot }, 'ab'.repeat(32)) }
    await expectDropped(e, async () => await e.network.libp2p.services.pubsub.publish(announceTopic(a.chain.chainId), encodeJson(fake)))
  }, 120_000)

  it('drops a peer that sends a malformed announcement', async () => {
    const e = await evil()
    await waitSubscribed(e)
    await expectDropped(e, async () => await e.network.libp2p.services.pubsub.publish(announceTopic(a.chain.chainId), new TextEncoder().encode('{"hash": 42')))
  }, 120_000)

  it('drops a peer whose status reply is oversized', async () => {
    const e = await evil(honest => ({ ...honest, tip: () => ({ ...honest.tip(), padding: 'x'.repeat(100_000) }) as WireHeader }))
    await expectDropped(e)
  }, 120_000)

  it('drops a peer that serves bytes that do not hash to the block it announced', async () => {
    const scratch = Chain.open(await cloneGenesis(genesis))
    const real = (await signImport(scratch, makeSqlite(join(tmpDir(), 'h.db'), 5, 8), alice)).block
    scratch.close()
    const junk = join(tmpDir(), 'junk.db')
    writeFileSync(junk, randomBytes(real.size))
    const e = await evil(honest => ({
      ...honest,
      tip: () => headerOf(real),
      openBlock: h => {
        if (h !== real.hash) return honest.openBlock(h)
        const fd = openSync(junk, 'r')
        return { fd, size: real.size, seal: real.seal }
      }
    }))
    await expectDropped(e)
    expect(a.chain.tip().height).toBe(0)
  }, 120_000)

  it('drops a peer that serves an invalid block under a valid seal, and honest nodes carry on', async () => {
    // A compromised signatory key: a real block, altered after sealing, then re-sealed over its
    // new hash with the original rows root. The seal verifies; the content does not.
    const scratch = Chain.open(await cloneGenesis(genesis))
    const real = (await signImport(scratch, makeSqlite(join(tmpDir(), 'r.db'), 5, 7), alice)).block
    const bad = join(tmpDir(), 'bad.db')
    copyFileSync(scratch.pathOf(real), bad)
    scratch.close()
    const db = new Database(bad)
    db.prepare('UPDATE t SET v = v + 1').run()
    db.close()
    const hash = await sha256File(bad)
    const header: WireHeader = { ...headerOf(real), hash, size: statSync(bad).size, seal: signSeal(alice, { chainId: a.chain.chainId, height: 1, rowsRoot: real.rowsRoot }, hash) }
    const e = await evil(honest => ({
      ...honest,
      tip: () => header,
      openBlock: h => {
        if (h !== hash) return honest.openBlock(h)
        const fd = openSync(bad, 'r')
        return { fd, size: fstatSync(fd).size, seal: header.seal }
      }
    }))
    await expectDropped(e)
    expect(a.chain.index.byHash(hash)).toBeUndefined()
    expect(b.chain.index.byHash(hash)).toBeUndefined()

    await a.publish(makeSqlite(join(tmpDir(), 'ok.db'), 3, 9))
    const tip = await waitConverged([a, b], { height: 1, what: 'honest nodes to carry on' })
    expect(tip.hash).not.toBe(hash)
  }, 120_000)

  it('a peer claiming a tip it cannot serve (signed by a key nobody knows) does not stall sync', async () => {
    const stranger = generateSigningKey()
    const fake: WireHeader = {
      hash: randomBytes(32).toString('hex'), height: 1_000, parent: randomBytes(32).toString('hex'), version: 2, signer: stranger.id,
      timestamp: new Date().toISOString(), rowsRoot: randomBytes(32).toString('hex'), prevSig: '3006020101020101', seal: '3006020101020101', size: 4096
    }
    // Its status claims a far-away tip; its headers are the honest chain's, so no branch reaches it.
    const e = await evil(s => ({ ...s, tip: () => fake }))
    await waitFor(() => b.sync.peerTips().has(e.network.peerId) || !b.network.connectedPeers().includes(e.network.peerId), { what: 'B to hear the claim' })
    const before = a.chain.tip().height
    await a.publish(makeSqlite(join(tmpDir(), 'honest.db'), 2, 77))
    await waitConverged([a, b], { height: before + 1, what: 'B to sync past the unservable claim' })
    await waitFor(() => b.sync.isSynced(), { what: 'B to count itself synced' })
  })
})
