import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sealerNote } from '../../src/cli/commands/ingest.js'
import { PetalNode } from '../../src/node/index.js'
import { nodeStatePath, runningNodeRole, type NodeState } from '../../src/node/state-file.js'
import { NodeLock } from '../../src/storage/index.js'
import { fixtureKey, newTestChain } from '../helpers/chain.js'
import { fastOptions } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'

// `petal append` says who seals the rows from node.lock and node-state.json. A node takes its lock
// before it has written the file: in that window it is neither a follower nor known to sign.

function state (pid: number, role: NodeState['role']): string {
  const now = new Date().toISOString()
  return JSON.stringify({ pid, peer_id: '12D3KooWtest', role, listen: [], started_at: now, updated_at: now, sync: { state: 'idle', height: 0 }, peers: [], banned: 0 })
}

describe('who seals beside a node (node-state.json)', () => {
  it('a node has written node-state.json, with its role, by the time its start resolves; a file a killed node left says nothing', async () => {
    const alice = fixtureKey('alice')
    const { chain, dir } = await newTestChain({ key: alice })
    chain.close()
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number
    writeFileSync(nodeStatePath(dir), state(dead, 'follower'))
    const n = await PetalNode.create({ dir, signingKey: alice, ...fastOptions({ discovery: false }), stateFile: true })
    await n.start()
    try {
      expect(JSON.parse(readFileSync(nodeStatePath(dir), 'utf8'))).toMatchObject({ pid: process.pid, role: 'signatory' })
      expect(await runningNodeRole(dir, { waitMs: 0 })).toBe('signatory')
    } finally {
      await n.stop()
    }
    expect(await runningNodeRole(dir, { waitMs: 0 })).toBeUndefined()
  })

  it('node.lock held without a live node\'s state file: unknown, not a follower; it waits for the file or for the lock to go', async () => {
    const dir = tmpDir()
    expect(await runningNodeRole(dir, { waitMs: 0 }), 'no node.lock at all').toBeUndefined()
    const lock = NodeLock.tryAcquire(dir)
    if (lock === undefined) throw new Error('lock not taken')
    try {
      expect(await runningNodeRole(dir, { waitMs: 0 })).toBe('unknown')
      expect(sealerNote('unknown')).not.toMatch(/does not sign|No node runs|node seals them/)
      // A file a killed node left (its pid gone): not believed.
      const dead = spawnSync(process.execPath, ['-e', '0']).pid as number
      writeFileSync(nodeStatePath(dir), state(dead, 'signatory'))
      expect(await runningNodeRole(dir, { waitMs: 0 })).toBe('unknown')
      // The node writes its file while append waits.
      const later = setTimeout(() => { writeFileSync(nodeStatePath(dir), state(process.pid, 'signatory')) }, 100)
      expect(await runningNodeRole(dir, { waitMs: 30_000, intervalMs: 10 })).toBe('signatory')
      clearTimeout(later)
      writeFileSync(nodeStatePath(dir), state(process.pid, 'follower'))
      expect(await runningNodeRole(dir, { waitMs: 0 })).toBe('follower')
      writeFileSync(join(dir, 'node-state.json'), '{')
      // The lock goes (a command's look at it, or a node that stopped) while append waits.
      setTimeout(() => { lock.release() }, 100)
      expect(await runningNodeRole(dir, { waitMs: 30_000, intervalMs: 10 })).toBeUndefined()
    } finally {
      lock.release()
    }
  })

  it('a node refused by a held node.lock names no dead pid: the file a killed node left is not the holder', async () => {
    const { chain, dir } = await newTestChain({ key: fixtureKey('alice') })
    chain.close()
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number
    writeFileSync(nodeStatePath(dir), state(dead, 'signatory'))
    // The holder: a pull, or a command's look at the lock, neither of which wrote that file.
    const lock = NodeLock.tryAcquire(dir)
    if (lock === undefined) throw new Error('lock not taken')
    const n = await PetalNode.create({ dir, ...fastOptions({ discovery: false }), stateFile: true })
    try {
      const err = await n.start().then(() => undefined, (e: unknown) => e)
      expect(err).toMatchObject({ code: 'ALREADY_RUNNING' })
      expect((err as Error).message).not.toContain(String(dead))
      expect((err as Error).message).toContain('node.lock')
      // A live node's pid is named.
      writeFileSync(nodeStatePath(dir), state(process.pid, 'signatory'))
      expect(await n.start().then(() => undefined, (e: unknown) => e)).toMatchObject({ code: 'ALREADY_RUNNING', message: expect.stringContaining(`(pid ${process.pid})`) })
    } finally {
      lock.release()
      await n.stop()
    }
  })
})
