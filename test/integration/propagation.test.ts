import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { signKeyOp, type KeyOpRow } from '../../src/block/index.js'
import { Chain, signImport } from '../../src/chain/index.js'
import type { SigningKey } from '../../src/crypto/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll, tipOf, waitConverged } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'

afterAll(stopAll)

/** Import a block through a second connection to the data directory, as `petal signimportblock` in another process does. */
async function importElsewhere (dir: string, key: SigningKey, src: string, keyOps: KeyOpRow[] = []): Promise<void> {
  const chain = Chain.open(dir)
  try {
    await signImport(chain, src, key, { keyOps })
  } finally {
    chain.close()
  }
}

describe('block propagation', () => {
  it('a new block reaches every node; a node behind NAT receives and publishes; blocks imported by another process are announced', async () => {
    const alice = fixtureKey('alice')
    const bob = fixtureKey('bob')
    const { chain, dir: aDir } = await newTestChain({ key: alice })
    const dirs = await Promise.all([1, 2, 3].map(async () => await cloneGenesis(chain)))
    chain.close()
    const a = await startNode(aDir, { name: 'A', key: alice })
    const b = await startNode(dirs[0] as string, { name: 'B', bootstrap: [addrOf(a)] })
    const c = await startNode(dirs[1] as string, { name: 'C', bootstrap: [addrOf(b)] })
    // D listens nowhere: outbound connections only, as behind a NAT.
    const d = await startNode(dirs[2] as string, { name: 'D', key: bob, bootstrap: [addrOf(c)], listen: [] })
    expect(d.listenAddrs()).toEqual([])
    const nodes = [a, b, c, d]
    const work = tmpDir()

    await a.publish(makeSqlite(join(work, '1.db'), 5, 1))
    await waitConverged(nodes, { height: 1, what: 'block 1 on every node' })

    // Block 2 comes from another connection to A's directory and makes bob a signatory:
    // A's node notices the commit and announces it.
    await importElsewhere(aDir, alice, makeSqlite(join(work, '2.db'), 3, 2), [signKeyOp(alice, a.chain.chainId, 'A', bob.publicKey)])
    await waitConverged(nodes, { height: 2, what: 'the block imported by another process to propagate' })
    expect(d.role).toBe('signatory')

    // The outbound-only node publishes; the others fetch the block over D's own connections.
    await d.publish(makeSqlite(join(work, '3.db'), 4, 3))
    const tip = await waitConverged(nodes, { height: 3, what: 'the NAT node\'s block to propagate' })
    expect(tipOf(a)).toEqual(tip)
    expect(a.chain.get(3)?.signer).toBe(bob.id)
    // D dialled out to peers it found in the DHT; no one could dial D.
    expect(d.peers().every(p => p.direction === 'outbound')).toBe(true)
  }, 120_000)
})
