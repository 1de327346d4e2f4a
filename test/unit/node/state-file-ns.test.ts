import { describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { nodePid, readNodeState, writeNodeState, type NodeState } from '../../../src/node/state-file.js'
import { NodeLock } from '../../../src/storage/index.js'
import { bootId, pidNamespace } from '../../../src/util/index.js'
import { holdIn, nsImport } from '../../helpers/pid-namespace.js'
import { tmpDir } from '../../helpers/tmp.js'

// node-state.json names its writer by its pid and, since session 43, its PID namespace: a pid of
// another namespace is never taken for the process of that number here.


const state = (pid: number, extra: Partial<NodeState> = {}): NodeState => {
  const now = new Date().toISOString()
  return { pid, peer_id: '12D3KooWns', role: 'follower', listen: [], started_at: now, updated_at: now, sync: { state: 'idle', height: 0 }, peers: [], banned: 0, ...extra }
}

describe.runIf(process.platform === 'linux' && pidNamespace() !== '')('node-state.json\'s PID namespace', () => {
  it('is written with the pid, and read back', async () => {
    const dir = tmpDir()
    await writeNodeState(dir, state(process.pid))
    const file = JSON.parse(readFileSync(join(dir, 'node-state.json'), 'utf8'))
    expect(Object.keys(file).slice(0, 2)).toEqual(['pid', 'pid_ns'])
    expect(file.pid_ns).toBe(pidNamespace())
    expect(file.boot_id).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim())
  })

  it('a file of another namespace whose pid is, here, the holder of node.lock is no running node (failed on 486eeac: that process was named the node)', async () => {
    const dir = tmpDir()
    const h = await holdIn(`const { NodeLock } = await import(${nsImport()}); const lock = NodeLock.tryAcquire(${JSON.stringify(dir)})
process.stdout.write(JSON.stringify({ held: lock !== undefined }) + '\\n'); process.stdin.resume(); process.stdin.on('end', () => { lock.release(); process.exit(0) })`, { own: false })
    try {
      expect(h.said.held).toBe(true)
      expect(NodeLock.isHeld(dir)).toBe(true)
      const path = join(dir, 'node-state.json')
      // A node of another namespace, whose pid there is the number of the lock's holder here.
      writeFileSync(path, JSON.stringify({ ...state(h.here), pid_ns: String(Number(pidNamespace()) + 7) }))
      expect(readNodeState(dir)).toBeUndefined()
      // The same file of this namespace, or of an older Petal (no namespace), names it as before.
      writeFileSync(path, JSON.stringify({ ...state(h.here), pid_ns: pidNamespace() }))
      expect(readNodeState(dir)).toMatchObject({ pid: h.here, here: h.here })
      writeFileSync(path, JSON.stringify(state(h.here)))
      expect(readNodeState(dir)).toMatchObject({ pid: h.here, here: h.here })
      // Of another host (a directory on NFS: every host's initial namespace has the same number)
      // or boot: its boot id says so, and its pid is taken for no process here (session 55).
      writeFileSync(path, JSON.stringify({ ...state(h.here), pid_ns: pidNamespace(), boot_id: 'another-host' }))
      const elsewhere = readNodeState(dir)
      expect(elsewhere).toMatchObject({ pid: h.here, other_boot: true })
      expect(elsewhere?.here).toBeUndefined()
      expect(nodePid(elsewhere as NonNullable<typeof elsewhere>)).toBe(`pid ${h.here} on another host (or before this host's last boot)`)
      writeFileSync(path, JSON.stringify({ ...state(h.here), pid_ns: pidNamespace(), boot_id: bootId() }))
      expect(readNodeState(dir)).toMatchObject({ pid: h.here, here: h.here })
    } finally {
      await h.stop()
    }
  })
})
