import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { signKeyOp } from '../../src/block/index.js'
import { Chain, signImport } from '../../src/chain/index.js'
import type { PetalNode } from '../../src/node/index.js'
import { QueryMirror } from '../../src/query/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll, stopNode, waitConverged } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')

/** A chain where alice and bob are both signatories (bob added at height 1), and `n` more data dirs of it. */
async function twoSignatoryChain (n: number): Promise<{ dirs: string[] }> {
  const { chain, dir } = await newTestChain({ key: alice })
  await signImport(chain, makeSqlite(join(tmpDir(), 'k.db'), 1, 0), alice, { keyOps: [signKeyOp(alice, chain.chainId, 'A', bob.publicKey)] })
  chain.close()
  const dirs = [dir]
  for (let i = 0; i < n; i++) dirs.push(await cloneGenesis({ params: chain.params, genesisFile: join(dir, '0000', 'block_00000000.db') }))
  return { dirs }
}

/** The canonical chain's (signer, rows root) pairs: what content it holds. */
function contents (node: PetalNode): string[] {
  return node.chain.index.range(1, node.chain.tip().height).map(b => `${b.signer}:${b.rowsRoot}`)
}

describe('fork choice over the network', () => {
  it('two signatories publishing on the same parent converge on one tip; the losing block is re-sealed, so both contents are in the final chain', async () => {
    const { dirs } = await twoSignatoryChain(2)
    const a = await startNode(dirs[0] as string, { name: 'A', key: alice })
    const b = await startNode(dirs[1] as string, { name: 'B', key: bob, bootstrap: [addrOf(a)] })
    const c = await startNode(dirs[2] as string, { name: 'C', bootstrap: [addrOf(a), addrOf(b)] })
    const nodes = [a, b, c]
    await waitConverged(nodes, { height: 1 })
    await waitForMesh(nodes)

    const work = tmpDir()
    // Both signImports read the tip in the same tick, before any network I/O: same parent.
    const [ra, rb] = await Promise.all([
      a.publish(makeSqlite(join(work, 'a.db'), 3, 100)),
      b.publish(makeSqlite(join(work, 'b.db'), 3, 200))
    ])
    expect(ra.block.parent).toBe(rb.block.parent)
    expect(ra.block.height).toBe(2)
    expect(rb.block.height).toBe(2)
    const winner = ra.block.hash < rb.block.hash ? ra.block : rb.block
    const loser = winner === ra.block ? rb.block : ra.block

    // The loser's signatory re-seals its content on the winner: height 3 everywhere.
    const tip = await waitConverged(nodes, { height: 3, what: 'convergence after the fork' })
    for (const n of nodes) {
      expect(n.chain.get(2)?.hash).toBe(winner.hash)
      expect(contents(n)).toContain(`${loser.signer}:${loser.rowsRoot}`)
      expect(contents(n)).toContain(`${winner.signer}:${winner.rowsRoot}`)
      expect(n.chain.tip().hash).toBe(tip.hash)
    }
    expect(a.chain.get(3)?.signer).toBe(loser.signer)
  }, 120_000)

  it('a partition heals to one tip: a node stopped while both sides publish catches up and re-seals its orphan', async () => {
    const { dirs } = await twoSignatoryChain(2)
    const a = await startNode(dirs[0] as string, { name: 'A', key: alice })
    let b = await startNode(dirs[1] as string, { name: 'B', key: bob, bootstrap: [addrOf(a)] })
    const c = await startNode(dirs[2] as string, { name: 'C', bootstrap: [addrOf(a)] })
    await waitConverged([a, b, c], { height: 1 })

    // Partition: B goes away. A's side publishes two blocks; B's side one (signed into B's
    // data directory while its node is down, as `petal signimportblock` would).
    await stopNode(b)
    const work = tmpDir()
    await a.publish(makeSqlite(join(work, 'a1.db'), 2, 11))
    await a.publish(makeSqlite(join(work, 'a2.db'), 2, 12))
    const bChain = Chain.open(dirs[1] as string)
    const orphan = (await signImport(bChain, makeSqlite(join(work, 'b1.db'), 2, 21), bob)).block
    bChain.close()
    await waitConverged([a, c], { height: 3 })

    // Heal: B comes back, reorganises onto the longer branch and re-seals b1 on top of it.
    b = await startNode(dirs[1] as string, { name: 'B2', key: bob, bootstrap: [addrOf(a)] })
    const tip = await waitConverged([a, b, c], { height: 4, what: 'the partition to heal' })
    for (const n of [a, b, c]) {
      expect(n.chain.tip().hash).toBe(tip.hash)
      expect(contents(n)).toContain(`${bob.id}:${orphan.rowsRoot}`)
      expect(contents(n)).toHaveLength(4)
    }
    expect(b.chain.index.byHash(orphan.hash)?.canonical).toBe(false)
    // B's query mirror followed the reorg: it holds the canonical chain, not the orphan.
    await waitFor(() => {
      const m = QueryMirror.open(b.chain)
      try { return m.tip()?.hash === tip.hash } finally { m.close() }
    }, { what: 'B\'s query mirror to follow the reorg' })
  }, 120_000)
})

/** Wait until every node is connected to every other (gossip reaches all directly). */
async function waitForMesh (nodes: PetalNode[]): Promise<void> {
  await waitFor(() => nodes.every(n => nodes.every(m => m === n || n.network.subscribers().includes(m.peerId))), { what: 'every node to subscribe to every other' })
}
