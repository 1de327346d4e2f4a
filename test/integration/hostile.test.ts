import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { copyFileSync, fstatSync, openSync, statSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { signSeal } from '../../src/block/index.js'
import { Chain, signImport } from '../../src/chain/index.js'
import { generateSigningKey, sha256File } from '../../src/crypto/index.js'
import { announceTopic, encodeJson, headerOf, LIMITS, protocolId, type BlockSource, type WireHeader } from '../../src/network/index.js'
import { STREAM_WINDOW } from '../../src/network/constants.js'
import { halfOpen, widenWindow } from '../../src/network/protocols/block.js'
import { lpStream } from '@libp2p/utils'
import { signPrevious } from '../../src/block/index.js'
import type { PetalNode } from '../../src/node/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { multiaddr } from '@multiformats/multiaddr'
import { importBlock } from '../../src/chain/index.js'
import { startEvilPeer, trickleBlocks, type EvilPeer } from '../helpers/evil.js'
import { addrOf, cloneGenesis, startNode, stopAll, waitConverged } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { disguisedRtree } from '../helpers/hostile-schemas.js'
import { forge } from '../fixtures/forge.js'
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

// Each test's peers go with it: a banned peer left running redials the honest nodes every 100 ms,
// and each refused connection costs both sides a handshake in this process, which slows every
// later test on a loaded machine.
afterEach(async () => {
  await Promise.all(evils.splice(0).map(async e => { await e.stop() }))
})

afterAll(async () => {
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

  it('drops a peer that serves a block with a disguised virtual table, sealed by a signatory', async () => {
    // What an older Petal sealed: a writable_schema edit turned into a virtual table that the text
    // check missed. Honest nodes refuse it by what SQLite reads, and penalise the sender.
    const g = a.chain.tip()
    const file = join(tmpDir(), 'vtab.db')
    const forged = await forge({ out: file, key: alice, chainId: a.chain.chainId, height: g.height + 1, previousHash: g.hash, timestamp: new Date().toISOString(), legacySchema: disguisedRtree })
    const size = statSync(file).size
    const header: WireHeader = { ...headerOf(g), hash: forged.hash, height: g.height + 1, parent: g.hash, signer: alice.id, timestamp: forged.header.timestamp, rowsRoot: forged.header.rowsRoot, prevSig: forged.header.previousHashSignature, seal: forged.seal, size }
    const e = await evil(honest => ({
      ...honest,
      tip: () => header,
      openBlock: h => {
        if (h !== forged.hash) return honest.openBlock(h)
        return { fd: openSync(file, 'r'), size, seal: forged.seal }
      }
    }))
    await expectDropped(e)
    expect(a.chain.index.byHash(forged.hash)).toBeUndefined()
    expect(b.chain.index.byHash(forged.hash)).toBeUndefined()
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

  it('a keyless peer claiming tip + 1 under an unknown signer, and trickling that block, holds up no one', async () => {
    // Issue 8 item 12. The claim is judged `ignore` (unknown signer); it must never become the
    // sync target, or the node waits on the trickle while real blocks go by.
    await waitConverged([a, b])
    const tip = b.chain.tip()
    const stranger = generateSigningKey()
    // The lowest possible hash: at equal height it beats any real block by fork choice.
    const hash = '00' + randomBytes(31).toString('hex')
    const rowsRoot = randomBytes(32).toString('hex')
    const fake: WireHeader = {
      hash, height: tip.height + 1, parent: tip.hash, version: 2, signer: stranger.id, timestamp: new Date().toISOString(), rowsRoot,
      prevSig: signPrevious(stranger, a.chain.chainId, tip.height + 1, tip.hash),
      seal: signSeal(stranger, { chainId: a.chain.chainId, height: tip.height + 1, rowsRoot }, hash),
      size: a.chain.params.maxBlockBytes
    }
    let asked = 0
    const e = await evil(s => ({ ...s, tip: () => { asked++; return fake } }))
    const t = await trickleBlocks(e, { everyMs: 200, fake: { hash, size: fake.size, seal: fake.seal } })
    await waitFor(() => asked >= 2 && b.network.connectedPeers().includes(e.network.peerId), { what: 'both honest nodes to hear the claim' })

    for (let i = 0; i < 2; i++) await a.publish(makeSqlite(join(tmpDir(), `real${i}.db`), 2, 300 + i))
    await waitConverged([a, b], { height: tip.height + 2, what: 'B to follow A past the fake claim' })
    expect(t.requested).not.toContain(hash)
    expect(b.sync.claimed(e.network.peerId)).toBe(true)
    await waitFor(() => b.sync.isSynced(), { what: 'B to count itself synced' })
  }, 120_000)

  it('range requests: blocks served in order up to one the server lacks; a peer lying in a range reply, or sending a malformed range request, is dropped', async () => {
    const scratch = Chain.open(await cloneGenesis(genesis))
    const blocks = [(await signImport(scratch, makeSqlite(join(tmpDir(), 'r1.db'), 5, 21), alice)).block, (await signImport(scratch, makeSqlite(join(tmpDir(), 'r2.db'), 5, 22), alice)).block]
    const files = new Map(blocks.map(b => [b.hash, { path: scratch.pathOf(b), size: b.size, seal: b.seal }]))
    scratch.close()
    const [b1, b2] = blocks as [typeof blocks[0], typeof blocks[0]]
    // Peers that serve these two blocks; the liar sends block 1's bytes (and size) for block 2.
    const serving = (lie: boolean) => (honest: BlockSource): BlockSource => ({
      ...honest,
      openBlock: h => {
        const f = files.get(lie && h === b2.hash ? b1.hash : h)
        return f === undefined ? honest.openBlock(h) : { fd: openSync(f.path, 'r'), size: f.size, seal: f.seal }
      }
    })
    const items = (hashes: string[]): Array<{ hash: string, dest: string }> => { const d = tmpDir(); return hashes.map((hash, i) => ({ hash, dest: join(d, `${i}.db`) })) }
    const maxBytes = a.chain.params.maxBlockBytes

    const e = await evil(serving(false))
    await waitFor(() => a.network.servesRanges(e.network.peerId), { what: 'A to learn that the peer serves ranges' })
    const got: number[] = []
    const asked = items([b1.hash, b2.hash, 'ee'.repeat(32)])
    await expect(a.network.fetchBlocks(e.network.peerId, asked, { maxBytes, onBlock: i => { got.push(i) } })).rejects.toMatchObject({ code: 'PEER_LACKS_BLOCK' })
    expect(got).toEqual([0, 1])
    expect([await sha256File(asked[0]?.dest ?? ''), await sha256File(asked[1]?.dest ?? '')]).toEqual([b1.hash, b2.hash])
    expect(a.network.scores.score(e.network.peerId)).toBe(0)

    const liar = await evil(serving(true))
    await waitFor(() => a.network.servesRanges(liar.network.peerId), { what: 'A to learn that the liar serves ranges' })
    got.length = 0
    await expect(a.network.fetchBlocks(liar.network.peerId, items([b1.hash, b2.hash]), { maxBytes, onBlock: i => { got.push(i) } })).rejects.toMatchObject({ code: 'TRANSFER_HASH_MISMATCH' })
    expect(got).toEqual([0])
    expect(a.network.scores.isBanned(liar.network.peerId)).toBe(true)

    // A range's stream lets the sender fill STREAM_WINDOW (yamux's own field: this fails if yamux renames it).
    const wide = await a.network.libp2p.dialProtocol(multiaddr(e.network.listenAddrs()[0] as string), protocolId(a.chain.chainId, 'blocks'))
    expect(Reflect.get(wide, 'recvWindow')).toBeLessThan(STREAM_WINDOW)
    widenWindow(wide)
    expect(Reflect.get(wide, 'recvWindow')).toBe(STREAM_WINDOW)
    // …and sends window updates once half of it is used (halfOpen reads yamux's state and capacity).
    expect(Reflect.get(wide, 'state')).toBe(3)
    expect(Reflect.get(wide, 'recvWindowCapacity')).toBeTypeOf('number')
    expect(halfOpen(wide)).toBe(false)
    wide.abort(new Error('only looked at its window'))

    // One hash more than a range may hold.
    const stream = await e.network.libp2p.dialProtocol(multiaddr(addrOf(a)), protocolId(a.chain.chainId, 'blocks'))
    await lpStream(stream).write(encodeJson({ hashes: Array.from({ length: LIMITS.maxRangeBlocks + 1 }, (_, i) => i.toString(16).padStart(64, '0')) }))
    await waitFor(() => a.network.scores.isBanned(e.network.peerId), { what: 'A to drop the peer that sent a malformed range request' })
  }, 120_000)

  it('cuts a block transfer below the rate floor, scores the peer down, and gets the block from another peer', async () => {
    await waitConverged([a, b])
    // A peer that holds the real chain plus one new real block X that only it has, and sends any
    // block one byte at a time.
    const e = await evil()
    for (let h = 1; h <= a.chain.tip().height; h++) {
      const r = a.chain.get(h) as NonNullable<ReturnType<Chain['get']>>
      await importBlock(e.chain, a.chain.pathOf(r), r.seal, { expectedHash: r.hash })
    }
    const x = (await signImport(e.chain, makeSqlite(join(tmpDir(), 'x.db'), 3, 400), alice)).block
    const t = await trickleBlocks(e, { everyMs: 50 })
    // A fresh node that knows only that peer, with a rate floor short enough for a test.
    const c = await startNode(await cloneGenesis(genesis), { name: 'C', bootstrap: [e.network.listenAddrs()[0] as string], discovery: false, network: { blockRateFloor: { bytesPerSecond: 1024, windowMs: 500 } } })
    // The peer trickles every block, so the first one C asks for is cut (which one depends on the
    // scheduler's order, not on this test). C reaches its first request through connection,
    // status and headers, whose time depends on the machine's load: wait for that request (while
    // C moves through those steps), then for the cut, which the rate floor makes within two
    // windows of it.
    const stage = (): string => `${String(c.network.connectedPeers().includes(e.network.peerId))} ${String(c.sync.peerTips().has(e.network.peerId))} ${c.sync.state().state}`
    await waitFor(() => t.requesters.includes(c.peerId), { what: 'C to ask the peer for a block', progress: stage })
    await waitFor(() => c.network.scores.score(e.network.peerId) < 0, { what: 'C to cut the trickle and score the peer down' })
    expect(c.chain.index.byHash(x.hash)).toBeUndefined()
    // Another peer gets X: C takes it from there.
    await importBlock(a.chain, e.chain.pathOf(x), x.seal, { expectedHash: x.hash })
    await c.network.libp2p.dial(multiaddr(addrOf(a)))
    await a.announceTip()
    await waitConverged([a, c], { height: x.height, what: 'C to get X from A' })
  }, 120_000)
})
