import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { pidNamespace } from '../../../src/util/index.js'
import { faultEnv, faultResult, faultShim } from '../../helpers/fault-shim.js'
import { tmpDir } from '../../helpers/tmp.js'

// node-state.json and peers.json are replaced without an fsync (replaceFile): a crash ends the
// process node-state.json describes, peers.json is a cache. Before, their writer fsynced the file
// and the data directory, and the crash torture's seed 393 (session 39) failed that directory's
// fsync under a pull: the node logged "writing node-state.json failed; retrying" for a file no
// reader needs after a crash. Runs the built code (dist/) under the fault shim, every fsync failing.

const dist = join(import.meta.dirname, '..', '..', '..', 'dist')

function underFailingFsyncs (dir: string, script: string): { code: number | null, stderr: string, calls: number } {
  const fault = faultEnv({ dir, ops: ['fsync'], nth: 1, sticky: true })
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...fault.env }, encoding: 'utf8' })
  return { code: r.status, stderr: r.stderr, calls: faultResult(fault).calls }
}

describe.runIf(faultShim() !== undefined)('files that describe a running process are not fsynced', () => {
  it('writeNodeState succeeds with every fsync failing, and fsyncs nothing', () => {
    const dir = tmpDir()
    const state = { pid: process.pid, peer_id: '12D3KooWtest', role: 'follower', listen: [], started_at: 'a', updated_at: 'b', sync: { state: 'idle', height: 3 }, peers: [], banned: 0 }
    const r = underFailingFsyncs(dir, `
      const { writeNodeState } = await import(${JSON.stringify(pathToFileURL(join(dist, 'node', 'state-file.js')).href)})
      await writeNodeState(${JSON.stringify(dir)}, ${JSON.stringify(state)})`)
    // The old code: EIO from the temporary file's fsync, the file never written.
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.calls).toBe(0)
    // With the writer's PID namespace after its pid (session 43), where it can read its own, its
    // boot id (session 55), and node-state.lock held by the writer (session 44).
    const ns = pidNamespace()
    const boot = existsSync('/proc/sys/kernel/random/boot_id') ? { boot_id: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() } : {}
    expect(JSON.parse(readFileSync(join(dir, 'node-state.json'), 'utf8'))).toEqual(ns === '' ? { ...state, ...boot, state_lock: true } : { ...state, pid_ns: ns, ...boot, state_lock: true })
    expect(readdirSync(dir).sort()).toEqual(['node-state.json', 'node-state.lock'])
  })

  it('replaceFile replaces a file whole and leaves no temporary, a failed write included', () => {
    const dir = tmpDir()
    const util = pathToFileURL(join(dist, 'util', 'index.js')).href
    const r = underFailingFsyncs(dir, `
      const { replaceFile } = await import(${JSON.stringify(util)})
      replaceFile(${JSON.stringify(join(dir, 'peers.json'))}, 'one')
      replaceFile(${JSON.stringify(join(dir, 'peers.json'))}, 'two')
      try { replaceFile(${JSON.stringify(join(dir, 'gone', 'x.json'))}, 'three') } catch (e) { console.log(e.code) }`)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.calls).toBe(0)
    expect(readFileSync(join(dir, 'peers.json'), 'utf8')).toBe('two')
    expect(readdirSync(dir)).toEqual(['peers.json'])
  })
})
