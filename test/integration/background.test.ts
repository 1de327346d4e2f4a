import { afterAll, describe, expect, it } from 'vitest'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { createPetalLibp2p, type PetalLibp2p } from '../../src/network/libp2p.js'
import { KnownPeers } from '../../src/network/known-peers.js'
import { loadOrCreateNodeKey } from '../../src/network/index.js'
import { nodeStatePath } from '../../src/node/state-file.js'
import { PetalNode } from '../../src/node/index.js'
import { NodeLock } from '../../src/storage/index.js'
import { nullLogger, processAlive, systemClock } from '../../src/util/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { CHUNK_ROWS } from '../../src/block/index.js'
import { fastOptions } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const started: PetalLibp2p[] = []
afterAll(async () => { await Promise.all(started.map(async n => { await n.stop() })) })

async function libp2pNode (): Promise<PetalLibp2p> {
  const n = await createPetalLibp2p({
    privateKey: await loadOrCreateNodeKey(join(tmpDir(), 'node.key')), chainId: 'test', listen: ['/ip4/127.0.0.1/tcp/0'], announce: [],
    maxConnections: 8, inboundPerSecond: 10, gater: {}, version: 'test'
  })
  started.push(n)
  return n
}

describe('background loops', () => {
  it('the known-peers loop survives a pass that throws and still dials its peers', async () => {
    const a = await libp2pNode()
    const b = await libp2pNode()
    let calls = 0
    const canDial = (): boolean => {
      if (++calls === 1) throw new Error('a bug in a dial policy')
      return true
    }
    const known = new KnownPeers(a, undefined, { baseMs: 10, maxMs: 100, maxRemembered: 8, parallel: 2 }, canDial, systemClock, nullLogger)
    known.load([multiaddr(`${b.getMultiaddrs()[0]?.toString() ?? ''}`)])
    known.start(10)
    try {
      await waitFor(() => a.getPeers().some(p => p.equals(b.peerId)), { what: 'A to dial B after the failed pass' })
      expect(calls).toBeGreaterThan(1)
    } finally {
      await known.stop()
    }
  })
})

describe('PetalNode.stop', () => {
  async function node (): Promise<{ n: PetalNode, dir: string }> {
    const { chain, dir } = await newTestChain({ key: fixtureKey('alice') })
    chain.close()
    const n = await PetalNode.create({ dir, ...fastOptions({ discovery: false }), stateFile: true })
    await n.start()
    return { n, dir }
  }

  /** The node let go of everything: its lock, its index and its listening port. */
  function released (n: PetalNode, dir: string): void {
    const lock = NodeLock.tryAcquire(dir)
    expect(lock).toBeDefined()
    lock?.release()
    expect(() => n.chain.tip()).toThrow()
    expect(n.network.libp2p.status).toBe('stopped')
  }

  it('when it starts, removes the temporary files of atomic writes a crash cut short (its own files\' always, the others\' once their writer is gone), and nothing else', async () => {
    const { chain, dir } = await newTestChain({ key: fixtureKey('alice') })
    chain.close()
    const dead = spawnSync(process.execPath, ['-e', '0']).pid
    const live = process.ppid
    expect(processAlive(dead)).toBe(false)
    expect(processAlive(live)).toBe(true)
    for (const d of ['api', 'keystore']) mkdirSync(join(dir, d), { recursive: true })
    const stale = [
      `node-state.json.${dead}.0a1b2c3d.tmp`, `node-state.json.${dead}.12345678.tmp`, `node-state.json.${process.pid}.deadbeef.tmp`, `peers.json.${live}.0a1b2c3d.tmp`,
      `journal.json.${dead}.12ab34cd.tmp`, `journal.json.${dead}.12345678.tmp`, `writer.json.${dead}.tmp`, `keystore/abc.json.${dead}.0a1b2c3d.tmp`, `api/tokens.json.${dead}.0a1b2c3d.tmp`
    ]
    const kept = [
      'node-state.json.bak', 'notes.tmp', 'other.json.abc.tmp', `journal.json.${live}.12ab34cd.tmp`,
      `keystore/abc.json.${live}.0a1b2c3d.tmp`, `keystore/abc.json.${live}.12345678.tmp`, `api/tokens.json.${process.pid}.0a1b2c3d.tmp`
    ]
    for (const f of [...stale, ...kept]) writeFileSync(join(dir, f), '{')
    const n = await PetalNode.create({ dir, ...fastOptions({ discovery: false }), stateFile: true })
    await n.start()
    try {
      for (const f of stale) expect(existsSync(join(dir, f)), f).toBe(false)
      for (const f of kept) expect(existsSync(join(dir, f)), f).toBe(true)
    } finally {
      await n.stop()
    }
  })

  it('finishes every step when one fails (node-state.json cannot be removed) and throws that failure', async () => {
    const { n, dir } = await node()
    // A directory where the state file goes: removing it fails. (The node may rewrite the file
    // between the two calls: try again.)
    await waitFor(() => {
      rmSync(nodeStatePath(dir), { force: true })
      try { mkdirSync(join(nodeStatePath(dir), 'x'), { recursive: true }); return true } catch { return false }
    })
    await expect(n.stop()).rejects.toMatchObject({ code: 'ERR_FS_EISDIR' })
    released(n, dir)
  })

  it('closes the table-hashing worker threads it opened with the chain', async () => {
    const { n, dir } = await node()
    const pool = n.chain.hashPool
    expect(pool).toBeDefined()
    // A table above the parallel threshold (4 chunks): building and checking the block use the pool.
    await n.publish(makeSqlite(join(tmpDir(), 'big.db'), 4 * CHUNK_ROWS + 1), fixtureKey('alice'))
    if (availableParallelism() >= 2) expect(pool?.alive).toBeGreaterThan(0)
    await n.stop()
    released(n, dir)
    expect(pool?.alive).toBe(0)
    await expect(pool?.run({ kind: 'sql', path: n.chain.dir.blockPath(1), table: { name: 't' } as never })).rejects.toMatchObject({ code: 'ABORTED' })
  })

  it('releases the lock and closes the index when the network fails to stop', async () => {
    const { n, dir } = await node()
    const libp2p = n.network.libp2p
    const realStop = libp2p.stop.bind(libp2p)
    libp2p.stop = async () => { await realStop(); throw new Error('libp2p would not stop') }
    await expect(n.stop()).rejects.toThrow('libp2p would not stop')
    released(n, dir)
  })
})
