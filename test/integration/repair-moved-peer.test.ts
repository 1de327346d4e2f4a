import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Chain } from '../../src/chain/index.js'
import { repairChain, type PetalNode } from '../../src/node/index.js'
import { extendChain, fixtureKey, newTestChain } from '../helpers/chain.js'
import { addrOf, closedPort, startNode, stopAll } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'

/**
 * A mirror pulled from a node remembers the node's address in peers.json; the node restarted on
 * another port (user51, an operator's day): `verify --repair` could not reach it, and said only
 * "a peer" could not be reached, not which one, at which address, nor where to read its address
 * now. Given the new address once with --peer, the repair worked, but peers.json kept only the
 * old address: the next repair (or run) failed the same way.
 */
const alice = fixtureKey('alice')
let source: PetalNode
let pristine: string

beforeAll(async () => {
  const { chain, dir } = await newTestChain({ key: alice })
  await extendChain(chain, alice, 3, 4)
  chain.close()
  pristine = join(tmpDir(), 'pristine')
  cpSync(dir, pristine, { recursive: true })
  source = await startNode(dir, { name: 'source', key: alice })
}, 60_000)

afterAll(stopAll)


describe('verify --repair of a mirror whose source moved to another port', () => {
  it('names the peer and its old address, then remembers the address --peer gave', async () => {
    const dir = join(tmpDir(), 'mirror')
    cpSync(pristine, dir, { recursive: true })
    const id = source.peerId.toString()
    const old = `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${id}`
    writeFileSync(join(dir, 'peers.json'), JSON.stringify({ peers: [{ id, addrs: [old], lastSeen: 1 }] }))
    const c = Chain.open(dir)
    try {
      rmSync(c.dir.blockPath(2))
      const failed = await repairChain(c)
      expect(failed.failed).toHaveLength(1)
      const reason = failed.failed[0]?.reason ?? ''
      expect(reason).toContain(`peer ${id} at ${old}`)
      expect(reason).toContain('`petal status` on that node\'s machine prints its address now')

      const now = addrOf(source)
      expect((await repairChain(c, { peers: [now] })).repaired).toMatchObject([{ height: 2, source: `peer ${id}` }])
      const remembered = (JSON.parse(readFileSync(join(dir, 'peers.json'), 'utf8')) as { peers: Array<{ id: string, addrs: string[] }> }).peers
      expect(remembered[0]).toMatchObject({ id, addrs: [now, old] })

      // The next repair finds the source without --peer.
      rmSync(c.dir.blockPath(3))
      expect((await repairChain(c)).repaired).toMatchObject([{ height: 3, source: `peer ${id}` }])
    } finally {
      c.close()
    }
  }, 90_000)
})
