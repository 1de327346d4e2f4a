// node-state.json's writer (node/state-publisher.ts): `petal status` and `petal append` read the
// running node's state there. A write that fails must not stop the ones after it, nor count as
// written, nor make a node's stop fail while it waits for the queue.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { nodeStatePath, type NodeState } from '../../../src/node/state-file.js'
import { StatePublisher } from '../../../src/node/state-publisher.js'
import { nullLogger } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'

const STARTED = new Date().toISOString()
/** The state of a node started at STARTED, as of now. */
function nodeState (role: NodeState['role']): NodeState {
  return { pid: process.pid, peer_id: '12D3KooWtest', role, listen: [], started_at: STARTED, updated_at: new Date().toISOString(), sync: { state: 'idle', height: 0 }, peers: [], banned: 0 }
}

describe('StatePublisher', () => {
  it('writes only when what the file says changes, its time aside', async () => {
    const dir = tmpDir()
    let s = nodeState('follower')
    const p = new StatePublisher(dir, () => ({ ...s, updated_at: new Date().toISOString() }), nullLogger)
    await p.write()
    // Each write is a new file renamed over the old one: the inode says whether it was written.
    const first = statSync(nodeStatePath(dir)).ino
    await p.write()
    expect(statSync(nodeStatePath(dir)).ino).toBe(first)
    s = nodeState('signatory')
    await p.write()
    expect(statSync(nodeStatePath(dir)).ino).not.toBe(first)
    expect(JSON.parse(readFileSync(nodeStatePath(dir), 'utf8'))).toMatchObject({ role: 'signatory' })
  })

  it('a failed write rejects, leaves the queue open, and is written again (not taken as unchanged); settled() never rejects', async () => {
    const dir = tmpDir()
    // A non-empty directory where the file goes: the rename over it fails.
    mkdirSync(join(nodeStatePath(dir), 'x'), { recursive: true })
    const p = new StatePublisher(dir, () => nodeState('signatory'), nullLogger)
    const failed = p.write()
    const after = p.write()
    await expect(failed).rejects.toThrow()
    await expect(after).rejects.toThrow()
    await expect(p.settled()).resolves.toBeUndefined()
    rmSync(nodeStatePath(dir), { recursive: true })
    // The same state as the failed writes: still written.
    await p.write()
    expect(JSON.parse(readFileSync(nodeStatePath(dir), 'utf8'))).toMatchObject({ pid: process.pid, role: 'signatory' })
  })

  it('the loop rewrites the file until its signal aborts, and recovers from a failed write', async () => {
    const dir = tmpDir()
    let role: NodeState['role'] = 'follower'
    const p = new StatePublisher(dir, () => nodeState(role), nullLogger)
    const controller = new AbortController()
    mkdirSync(join(nodeStatePath(dir), 'x'), { recursive: true })
    const loop = p.loop(controller.signal, () => 5)
    await new Promise(resolve => setTimeout(resolve, 50))
    rmSync(nodeStatePath(dir), { recursive: true })
    role = 'signatory'
    const until = Date.now() + 20_000
    const says = (): string | undefined => { try { return (JSON.parse(readFileSync(nodeStatePath(dir), 'utf8')) as NodeState).role } catch { return undefined } }
    while (says() !== 'signatory' && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 10))
    expect(says()).toBe('signatory')
    controller.abort()
    await loop
    await p.settled()
    writeFileSync(nodeStatePath(dir), 'left by the test')
    role = 'follower'
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(readFileSync(nodeStatePath(dir), 'utf8')).toBe('left by the test')
  })
})
