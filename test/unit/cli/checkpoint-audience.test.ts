import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkpointAudience } from '../../../src/cli/checkpoint-audience.js'
import { CliContext } from '../../../src/cli/context.js'
import { checkpointForHeight, checkpointText, findCheckpoint, missingSizeHint, keepReceivedCheckpoint, noCheckpointHint, readCheckpointNote, signCheckpoint, signTipCheckpoints, storedChainTree, treeRoot } from '../../../src/proof/index.js'
import { toHex } from '../../../src/util/index.js'
import { importBlock } from '../../../src/chain/index.js'
import { readSeal } from '../../../src/storage/index.js'
import { extendChain, fixtureKey, forkedPair, keyOpBlock, newTestChain } from '../../helpers/chain.js'

const alice = fixtureKey('alice')
const peer = '12D3KooWCGNxD6T6JXpnLvRxYHGexR4mPjXq5b1PLKwH1vmiXd5N'
const addr = `/ip4/127.0.0.1/tcp/4001/p2p/${peer}`

// PROOF_NO_CHECKPOINT's hint for a reader (a pulled mirror, an archive) who knows no peer printed
// `petal pull MULTIADDR`, which fails as printed (user49); and, naming the peer the directory last
// met, it did not say when that peer had sent checkpoints that stop short: a signatory's node
// signs every tip it reaches, so it may be no signatory's node.
describe('PROOF_NO_CHECKPOINT\'s hint for a reader', () => {
  it('says how to find a signatory\'s node when the directory knows no peer, and no placeholder', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 1)
    const ctx = new CliContext({ dir }, { stdout: () => {}, stderr: () => {}, env: {}, stderrIsTTY: false, packageRoot: '.' }, new AbortController().signal)
    const audience = checkpointAudience(ctx, chain)
    expect(audience).toEqual({ kind: 'reader' })
    const hint = noCheckpointHint(audience)
    expect(hint).not.toContain('MULTIADDR')
    expect(hint).toContain('knows no peer')
    expect(hint).toContain('`status`')

    // The peer it last met sent a checkpoint of block 1; the chain is at 3 now.
    const size = storedChainTree(chain).size
    const note = signCheckpoint(checkpointText({ chainId: chain.chainId, size, root: treeRoot(storedChainTree(chain), size), tip: size - 1, maxReorgDepth: chain.params.maxReorgDepth }), [alice])
    await chain.index.withWriteLock(async () => { chain.index.checkpoints.insert({ size, root: toHex(treeRoot(storedChainTree(chain), size)), tip: size - 1, note, receivedAt: Date.now(), source: `peer ${peer}` }) })
    await extendChain(chain, alice, 2)
    writeFileSync(join(dir, 'peers.json'), JSON.stringify({ peers: [{ id: peer, addrs: [addr], lastSeen: Date.now() }] }))
    const met = checkpointAudience(ctx, chain)
    expect(met).toEqual({ kind: 'reader', pullFrom: addr, sentUpTo: 1 })
    expect(noCheckpointHint(met)).toContain(`the peer this directory last met (${addr}) sent it checkpoints up to block 1 only, so it may be no signatory's node`)
    // One that sent none (a pull killed before it asked): the plain advice, its address to pull from.
    writeFileSync(join(dir, 'peers.json'), JSON.stringify({ peers: [{ id: 'other', addrs: [addr], lastSeen: Date.now() }] }))
    expect(noCheckpointHint(checkpointAudience(ctx, chain))).toContain(`\`petal pull ${addr}\``)
    chain.close()
  })

  it('says for certain whether the peer last met is a signatory\'s node when its status said so (session 50)', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 1)
    const ctx = new CliContext({ dir }, { stdout: () => {}, stderr: () => {}, env: {}, stderrIsTTY: false, packageRoot: '.' }, new AbortController().signal)
    const met = (signer: string | null): void => { writeFileSync(join(dir, 'peers.json'), JSON.stringify({ peers: [{ id: peer, addrs: [addr], lastSeen: Date.now(), signer }] })) }
    met(null)
    expect(checkpointAudience(ctx, chain)).toEqual({ kind: 'reader', pullFrom: addr, signs: false })
    expect(noCheckpointHint(checkpointAudience(ctx, chain))).toContain(`the peer this directory last met (${addr}) is no signatory's node`)
    // A key that is no active signatory's here (revoked since, or added on a branch this directory
    // left: bob's) says nothing for certain: the peer may hold another key now (review51: it said
    // "is no signatory's node" of a node whose key was rotated since).
    met(fixtureKey('bob').id)
    expect(checkpointAudience(ctx, chain)).toEqual({ kind: 'reader', pullFrom: addr })
    expect(noCheckpointHint(checkpointAudience(ctx, chain))).not.toContain('no signatory\'s node')
    met(alice.id)
    expect(checkpointAudience(ctx, chain)).toEqual({ kind: 'reader', pullFrom: addr, signs: true })
    const size = storedChainTree(chain).size
    const note = signCheckpoint(checkpointText({ chainId: chain.chainId, size, root: treeRoot(storedChainTree(chain), size), tip: size - 1, maxReorgDepth: chain.params.maxReorgDepth }), [alice])
    await chain.index.withWriteLock(async () => { chain.index.checkpoints.insert({ size, root: toHex(treeRoot(storedChainTree(chain), size)), tip: size - 1, note, receivedAt: Date.now(), source: `peer ${peer}` }) })
    await extendChain(chain, alice, 1)
    expect(noCheckpointHint(checkpointAudience(ctx, chain))).toContain(`is a signatory's node, and sent it checkpoints up to block 1: pull from it again`)
    chain.close()
  })

  it('names the highest block the peer\'s checkpoints covered, though its rows merged into another peer\'s (session 53)', async () => {
    // Two signatories, alice and bob (added at height 1); tip 3.
    const { chain, dir } = await newTestChain({ key: alice })
    const bob = fixtureKey('bob')
    await keyOpBlock(chain, alice, 'A', bob)
    await extendChain(chain, alice, 2)
    const ctx = new CliContext({ dir }, { stdout: () => {}, stderr: () => {}, env: {}, stderrIsTTY: false, packageRoot: '.' }, new AbortController().signal)
    const tree = storedChainTree(chain)
    const text = (size: number): string => checkpointText({ chainId: chain.chainId, size, root: treeRoot(tree, size), tip: size - 1, maxReorgDepth: chain.params.maxReorgDepth })
    // The peer sent alice's checkpoints of blocks 1 and 3; another peer bob's of block 3, the same
    // text: kept as one row, with both lines, whose source is the peer that added the last line.
    expect(await keepReceivedCheckpoint(chain, signCheckpoint(text(2), [alice]), peer)).toBe(true)
    expect(await keepReceivedCheckpoint(chain, signCheckpoint(text(4), [alice]), peer)).toBe(true)
    expect(await keepReceivedCheckpoint(chain, signCheckpoint(text(4), [bob]), 'other')).toBe(true)
    expect(chain.index.checkpoints.list({ minSize: 4, maxSize: 4 }).map(r => r.source)).toEqual(['peer other'])
    await extendChain(chain, alice, 2)
    writeFileSync(join(dir, 'peers.json'), JSON.stringify({ peers: [{ id: peer, addrs: [addr], lastSeen: Date.now() }] }))
    // Until session 53 the hint read the rows' sources: "up to block 1", where the peer sent block 3's.
    expect(checkpointAudience(ctx, chain)).toEqual({ kind: 'reader', pullFrom: addr, sentUpTo: 3 })
    expect(noCheckpointHint(checkpointAudience(ctx, chain))).toContain(`sent it checkpoints up to block 3 only`)
    chain.close()
  })

  it('does not say the peer\'s checkpoints stop short of a block they covered before a reorg here (session 54)', async () => {
    // A reader (a) and a rival branch (b) of one chain, 2 blocks long, max_reorg_depth 3. The peer
    // sent alice's checkpoint of a's blocks 0…4; then b's longer branch wins (blocks 3 and 4 abandoned).
    const { a, b, dir } = await forkedPair(alice, 2, { maxReorgDepth: 3 })
    await extendChain(a, alice, 2, 3)
    const size = storedChainTree(a).size
    const note = signCheckpoint(checkpointText({ chainId: a.chainId, size, root: treeRoot(storedChainTree(a), size), tip: size - 1, maxReorgDepth: 3 }), [alice])
    expect(await keepReceivedCheckpoint(a, note, peer)).toBe(true)
    await extendChain(b, alice, 3, 4)
    for (let h = 3; h <= 5; h++) await importBlock(a, b.dir.blockPath(h), readSeal(b.dir.blockPath(h)))
    expect(a.tip().hash).toBe(b.tip().hash)
    writeFileSync(join(dir, 'peers.json'), JSON.stringify({ peers: [{ id: peer, addrs: [addr], lastSeen: Date.now() }] }))
    const ctx = new CliContext({ dir }, { stdout: () => {}, stderr: () => {}, env: {}, stderrIsTTY: false, packageRoot: '.' }, new AbortController().signal)
    expect(checkpointAudience(ctx, a)).toEqual({ kind: 'reader', pullFrom: addr, sentUpTo: 4 })
    const hintFor = (height: number): string => {
      try {
        checkpointForHeight(a, height, false, asked => noCheckpointHint(checkpointAudience(ctx, a), asked))
      } catch (err) { return (err as { hint: string }).hint }
      throw new Error(`a checkpoint covers block ${height}`)
    }
    // Until session 54: "sent it checkpoints up to block 4 only, so it may be no signatory's node".
    const hint = hintFor(3)
    expect(hint).not.toContain('up to block 4 only')
    expect(hint).toContain('sent it checkpoints up to block 4, but none of them that covers block 3 is of this directory\'s chain now (a reorg here has left the branch they were signed on)')
    expect(hint).toContain(`\`petal pull ${addr}\``)
    // A block above what it sent: as before.
    expect(hintFor(5)).toContain('sent it checkpoints up to block 4 only')
    // A size it lacks (prove --consistency, checkpoint --height): ask that peer for it; no peer known: find one.
    expect(missingSizeHint(checkpointAudience(ctx, a), 3)).toContain(`\`petal pull ${addr} --checkpoint-size 3\``)
    expect(missingSizeHint({ kind: 'reader' }, 3)).toContain('then run `petal pull` with it and `--checkpoint-size 3`')
    a.close()
    b.close()
  })

  it('tells a new signatory that its key signs a final checkpoint only max_reorg_depth blocks after its block (session 53)', async () => {
    const { chain, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 2 } })
    const bob = fixtureKey('bob')
    await keyOpBlock(chain, alice, 'A', bob)
    await extendChain(chain, bob, 1)
    const ctx = new CliContext({ dir }, { stdout: () => {}, stderr: () => {}, env: {}, stderrIsTTY: false, packageRoot: '.' }, new AbortController().signal)
    ctx.keystore().import(readFileSync('test/fixtures/keys/bob.pem', 'utf8'))
    const audience = checkpointAudience(ctx, chain)
    expect(audience).toEqual({ kind: 'signatory', key: bob.id, isDefault: true, finalFrom: 3 })
    // The hint's command signs the latest tree only (bob's key is younger than the final one, heights 0…0).
    const sizes = async (): Promise<number[]> => (await signTipCheckpoints(chain, bob)).map(n => readCheckpointNote(n).checkpoint.size)
    expect(await sizes()).toEqual([3])
    expect(findCheckpoint(chain, { height: 0, final: true })).toBeUndefined()
    expect(noCheckpointHint(audience)).toContain('a final checkpoint only once the tip reaches 3')
    await extendChain(chain, bob, 1)
    expect(checkpointAudience(ctx, chain)).toEqual({ kind: 'signatory', key: bob.id, isDefault: true })
    expect(await sizes()).toEqual([4, 2])
    chain.close()
  })
})
