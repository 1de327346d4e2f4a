import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { removeNodeState, writeNodeState, type NodeState } from '../../../src/node/state-file.js'
import { holdIn, nodeScript, nsImport, nsLoader } from '../../helpers/pid-namespace.js'
import { tmpDir } from '../../helpers/tmp.js'

// A node takes node-state.lock at its first write of node-state.json, and tries again at each
// write until it has it. Another process may hold it: a reader's look, for an instant, or one
// stopped in that instant (a `status` under Ctrl-Z). The wait for it was SQLite's busy wait (1 s),
// which sleeps on the calling thread: the node's gossip, sync and HTTP stalled for that second at
// every write. Events are ordered, not timed: a timer set before a write fires before the write
// ends only if the write yields to the event loop while it waits.

const state = (n: number): NodeState => {
  const now = new Date().toISOString()
  return { pid: process.pid, peer_id: '12D3KooWwait', role: 'follower', listen: [], started_at: now, updated_at: now, sync: { state: 'idle', height: n }, peers: [], banned: 0 }
}

/** node-state.lock taken and held by another process (a look stopped in its instant). */
const holdStateLock = (dir: string): string => `const { NodeLock } = await import(${nsImport()})
const lock = NodeLock.tryAcquire(${JSON.stringify(dir)}, 'node-state.lock')
process.stdout.write(JSON.stringify({ held: lock !== undefined }) + '\\n')
process.stdin.resume(); process.stdin.on('end', () => { lock?.release(); process.exit(0) })`

const fileOf = (dir: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, 'node-state.json'), 'utf8'))

describe('node-state.lock held by another process at a node\'s writes', () => {
  it('is waited for without blocking the event loop, at the first write and at the next (failed on 42b86f3: written before the timer)', async () => {
    const dir = tmpDir()
    const holder = await holdIn(holdStateLock(dir), { own: false })
    try {
      expect(holder.said.held).toBe(true)
      for (const n of [1, 2]) {
        const events: string[] = []
        setTimeout(() => { events.push('timer') }, 0)
        await writeNodeState(dir, state(n)).then(() => { events.push('written') })
        expect(events, `write ${n}`).toEqual(['timer', 'written'])
        // Written all the same, without the field: judged as an older Petal's file.
        expect(fileOf(dir)).toMatchObject({ sync: { height: n } })
        expect(fileOf(dir)).not.toHaveProperty('state_lock')
      }
      // A write still waiting when its writer removes the file does not bring it back.
      const late = writeNodeState(dir, state(3))
      removeNodeState(dir)
      await late
      expect(existsSync(join(dir, 'node-state.json'))).toBe(false)
    } finally {
      await holder.stop()
    }
    // The holder gone, the next write takes the lock.
    await writeNodeState(dir, state(4))
    expect(fileOf(dir)).toMatchObject({ state_lock: true, sync: { height: 4 } })
    removeNodeState(dir)
  }, 30_000)
})

const withStrace = spawnSync('strace', ['-f', '-qq', '-e', 'trace=none', 'true']).status === 0

describe.runIf(withStrace)('readNodeState beside a running node', () => {
  it('reads /proc/locks once (twice on 42b86f3: node.lock\'s holders, then node-state.lock\'s)', async () => {
    const dir = tmpDir()
    const node = await holdIn(nodeScript(dir), { own: false })
    try {
      const log = join(tmpDir(), 'strace.log')
      const script = `const { readNodeState } = await import(${nsImport()}); process.stdout.write(JSON.stringify(readNodeState(${JSON.stringify(dir)})?.here ?? null))`
      const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=openat,open', '-o', log, process.execPath, ...nsLoader(), '--input-type=module', '-e', script], { encoding: 'utf8' })
      expect(r.status, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout)).toBe(node.said.pid)
      expect(readFileSync(log, 'utf8').split('\n').filter(l => l.includes('"/proc/locks"'))).toHaveLength(1)
    } finally {
      await node.stop()
    }
  }, 30_000)
})
