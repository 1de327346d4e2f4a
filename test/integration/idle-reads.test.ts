// pooled-reads.ts on real nodes: a node's dialled sockets read a bulk transfer into 1 MiB pools,
// and the handle keeps its current region, and so its pool, between reads. Nodes that synced a few
// large blocks from one peer and then went quiet kept 1 MiB each for as long as the connection
// lived (review31); the first read after a quiet spell (a status poll, a ping) now moves the
// socket to a 64 KiB pool. Measured by pooled-reads' own count of the pools the open sockets hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { signImport } from '../../src/chain/index.js'
import type { ChainParams } from '../../src/storage/index.js'
import type { PetalNode } from '../../src/node/index.js'
import { pooledReadStats, SMALL_POOL } from '../../src/network/pooled-reads.js'
import { fixtureKey, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll, tipOf } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const PEERS = 4
const BLOCKS = 3

let source: PetalNode
let genesis: { params: ChainParams, genesisFile: string }

beforeAll(async () => {
  const alice = fixtureKey('alice')
  const { chain, dir } = await newTestChain({ key: alice })
  const work = tmpDir()
  for (let i = 0; i < BLOCKS; i++) {
    // ~600 KB a block: the pulls' reads fill 64 KiB regions and go on into 1 MiB pools.
    const db = new Database(join(work, `big${i}.db`))
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)')
    for (let r = 0; r < 6; r++) db.prepare('INSERT INTO t (b) VALUES (randomblob(100000))').run()
    db.close()
    await signImport(chain, join(work, `big${i}.db`), alice)
  }
  genesis = { params: chain.params, genesisFile: join(dir, '0000', 'block_00000000.db') }
  const copy = await cloneGenesis(genesis)
  chain.close()
  genesis.genesisFile = join(copy, '0000', 'block_00000000.db')
  source = await startNode(dir, { name: 'source', key: alice, discovery: false })
}, 120_000)

afterAll(stopAll)

describe('pooled reads on idle connections', () => {
  it(`${PEERS} nodes that synced from one peer and went quiet keep 64 KiB pools, not 1 MiB`, async () => {
    const before = pooledReadStats()
    const peers: PetalNode[] = []
    for (let i = 0; i < PEERS; i++) peers.push(await startNode(await cloneGenesis(genesis), { name: `peer ${i}`, bootstrap: [addrOf(source)], discovery: false }))
    await waitFor(() => peers.every(p => tipOf(p).hash === tipOf(source).hash), { timeout: 60_000, what: 'the peers to sync' })
    // The pulls went through large pools (else this test would prove nothing).
    expect(pooledReadStats().large - before.large).toBeGreaterThanOrEqual(PEERS)
    // Quiet now: the sync's status polls (every second) and libp2p's pings are the only reads.
    const quiet = await waitFor(() => {
      const s = pooledReadStats()
      return s.held <= s.open * SMALL_POOL ? s : undefined
    }, { timeout: 30_000, what: 'the idle sockets to hold at most 64 KiB each' }).catch((err: Error) => {
      const s = pooledReadStats()
      throw new Error(`${err.message}: ${s.held} bytes held by ${s.open} sockets`)
    })
    expect(quiet.open).toBeGreaterThanOrEqual(PEERS)
    expect(quiet.sockets - before.sockets).toBeGreaterThanOrEqual(PEERS)
  }, 120_000)
})
