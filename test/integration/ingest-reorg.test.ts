import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { signKeyOp } from '../../src/block/index.js'
import { signImport } from '../../src/chain/index.js'
import type { Ingest } from '../../src/ingest/index.js'
import type { PetalNode } from '../../src/node/index.js'
import { findCheckpoint, parseTrustFile, proveRows, signatoryVkey, verifyProof } from '../../src/proof/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { canonicalRows, checkExactlyOnce } from '../helpers/ingest.js'
import { addrOf, cloneGenesis, startNode, stopAll, waitConverged } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

afterAll(stopAll)

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')

function ingestOf (n: PetalNode): Ingest {
  if (n.ingest === undefined) throw new Error('node without an ingest service')
  return n.ingest
}

describe('records across a fork between two sealing signatories', () => {
  it('two signatories seal pending rows on the same parent: every receipt ends sealed, once, on the winning chain', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    await signImport(chain, makeSqlite(join(tmpDir(), 'k.db'), 1, 0), alice, { keyOps: [signKeyOp(alice, chain.chainId, 'A', bob.publicKey)] })
    chain.close()
    const dirB = await cloneGenesis({ params: chain.params, genesisFile: join(dir, '0000', 'block_00000000.db') })
    const dirC = await cloneGenesis({ params: chain.params, genesisFile: join(dir, '0000', 'block_00000000.db') })
    // The seal loops would seal on their own only after an hour: the test seals both at once.
    const ingest = { everyMs: 3_600_000, pollMs: 50 }
    const a = await startNode(dir, { name: 'A', key: alice, ingest })
    const b = await startNode(dirB, { name: 'B', key: bob, bootstrap: [addrOf(a)], ingest })
    const c = await startNode(dirC, { name: 'C', bootstrap: [addrOf(a), addrOf(b)], ingest })
    const nodes = [a, b, c]
    await waitConverged(nodes, { height: 1 })
    await waitFor(() => nodes.every(n => nodes.every(m => m === n || n.network.subscribers().includes(m.peerId))), { what: 'a full gossip mesh' })

    const rowsFor = (who: string, n: number): Array<{ who: string, n: bigint, note: string }> => Array.from({ length: n }, (_, i) => ({ who, n: BigInt(i), note: `${who}-${i}` }))
    const ra = await ingestOf(a).append('events', rowsFor('a', 50))
    const rb = await ingestOf(b).append('events', rowsFor('b', 70))
    const requeued: number[] = []
    for (const n of [a, b]) ingestOf(n).on('requeued', e => { requeued.push(e.rows) })

    // Both seal in the same tick, before either hears of the other's block: a fork at height 2.
    const [sa, sb] = await Promise.all([ingestOf(a).sealNow(), ingestOf(b).sealNow()])
    const blockA = sa.blocks[0]
    const blockB = sb.blocks[0]
    expect(blockA?.height).toBe(2)
    expect(blockB?.height).toBe(2)
    const loser = (blockA?.hash as string) < (blockB?.hash as string) ? b : a

    // The loser's seal loop re-queues its rows when the reorg lands and seals them on the winner.
    await waitFor(() => requeued.length > 0, { what: 'the losing signatory to re-queue its rows', timeout: 30_000 })
    const tip = await waitConverged(nodes, { height: 3, what: 'convergence with the re-sealed rows' })
    expect(tip.height).toBe(3)
    expect(requeued).toEqual([loser === a ? 50 : 70])

    const key = (v: Record<string, unknown>): string => String(v.note)
    for (const n of nodes) expect(n.chain.tip().hash).toBe(tip.hash)
    await waitFor(() => [ra.receipts.every(id => ingestOf(a).receipt(id)?.state === 'sealed'), rb.receipts.every(id => ingestOf(b).receipt(id)?.state === 'sealed')].every(Boolean), { what: 'every receipt to be sealed' })
    expect(checkExactlyOnce(a.chain, ingestOf(a), 'events', ra.receipts, key)).toEqual([])
    expect(checkExactlyOnce(b.chain, ingestOf(b), 'events', rb.receipts, key)).toEqual([])
    // The follower's copy of the chain holds each row once: 120 rows, none twice.
    const all = canonicalRows(c.chain, 'events').map(r => key(r.values))
    expect(all).toHaveLength(120)
    expect(new Set(all).size).toBe(120)
    // The generic orphan re-seal left the ingest block alone (it would have sealed the rows twice).
    expect(loser.chain.index.sideBlocks().filter(s => s.signer === (loser === a ? alice.id : bob.id))).toHaveLength(1)

    // The re-sealed row gets a new proof, in its new block, that verifies with the signatories' keys
    // (against the latest checkpoint the loser keeps: its own, or the other's, gossiped).
    const lostId = (loser === a ? ra : rb).receipts[7] as string
    const sealed = ingestOf(loser).receipt(lostId)?.sealed
    expect(sealed?.height).toBe(3)
    await waitFor(() => findCheckpoint(loser.chain, { height: 3 }) !== undefined, { what: 'a checkpoint of the new tip on the loser' })
    const proof = await proveRows(loser.chain, { height: 3, table: 'events', rows: [{ rowid: BigInt(sealed?.rowid ?? '0') }] })
    const vkeys = [await signatoryVkey(loser.chain.chainId, alice), await signatoryVkey(loser.chain.chainId, bob)].join('\n')
    const trust = await parseTrustFile(new TextEncoder().encode(vkeys))
    if (typeof trust === 'string') throw new Error(trust)
    const report = await verifyProof(JSON.stringify(proof), trust)
    expect(report.ok, report.failure?.message).toBe(true)
    expect(report.rows[0]?.values[2]).toEqual({ text: `${loser === a ? 'a' : 'b'}-7` })
  }, 120_000)
})
