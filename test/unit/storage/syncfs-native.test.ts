import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { nativeOpenssl } from '../../../src/crypto/index.js'
import { resetNativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { prepareGroup, setSyncfsMode, stopSyncfsHelper, syncFileSystem, syncfsWanted } from '../../../src/storage/index.js'
import { liveChildPids } from '../../../src/util/child-processes.js'
import { faultEnv, faultResult, faultShim } from '../../helpers/fault-shim.js'
import { tmpDir } from '../../helpers/tmp.js'

// A group's syncfs through the addon (place-files.c's syncfs, on libuv's thread pool), where the
// helper shell ran `sync -f`: a fork and an exec a group, ~3 ms of CPU on the benches' VM
// (docs/performance/catchup.md, "Session 39: catch-up"). The verdicts are the helper's.

const saved = { PATH: process.env.PATH }
const repo = join(import.meta.dirname, '..', '..', '..')
// Wherever the addon is built (not where it has syncfs: the old code's addon ran these through the helper, and failed them).
// Decided afresh for each file by test/helpers/setup.ts (the unit tier shares modules between files).
const withAddon = process.platform === 'linux' && nativeOpenssl() !== undefined

/** PATH with `sh` and a `sync` that logs its arguments to `log`, then does nothing. */
function loggingSync (log: string): string {
  const bin = tmpDir()
  symlinkSync('/bin/sh', join(bin, 'sh'))
  writeFileSync(join(bin, 'sync'), `#!/bin/sh\necho "$@" >> ${log}\n`)
  chmodSync(join(bin, 'sync'), 0o755)
  return `${bin}:${saved.PATH ?? ''}`
}

beforeEach(async () => { resetNativeOpenssl(); await stopSyncfsHelper(true) })
afterEach(async () => {
  process.env.PATH = saved.PATH
  setSyncfsMode(undefined)
  await stopSyncfsHelper(true)
})

describe.runIf(withAddon)('syncFileSystem through the addon', () => {
  it('flushes in this process: no `sync` run, no child process started', async () => {
    const log = join(tmpDir(), 'calls')
    process.env.PATH = loggingSync(log)
    const before = liveChildPids().length
    const dir = tmpDir()
    expect(await syncFileSystem(dir)).toBe(true)
    expect(await syncFileSystem(dir)).toBe(true)
    // On the helper's way (before session 39) the fake `sync` ran twice in a new child.
    expect(existsSync(log)).toBe(false)
    expect(liveChildPids().length).toBe(before)
  })

  it('a group of blocks placed by it: every .sig written, nothing run', async () => {
    const log = join(tmpDir(), 'calls')
    process.env.PATH = loggingSync(log)
    setSyncfsMode('1')
    const dir = tmpDir()
    const group = Array.from({ length: 3 }, (_, i) => {
      const file = join(dir, `${process.pid}-${i}.db`)
      writeFileSync(file, Buffer.alloc(4096, i))
      return { file, seal: `seal${i}` }
    })
    await prepareGroup(group)
    expect(existsSync(log)).toBe(false)
    for (const b of group) expect(readFileSync(b.file.replace(/\.db$/, '.sig'), 'utf8')).toBe(`${b.seal}\n`)
  })

  it('a directory it cannot open is an error it does not know: unavailable from then on, as with the helper', async () => {
    expect(await syncFileSystem(join(tmpDir(), 'gone'))).toBe(false)
    expect(syncfsWanted(tmpDir(), 1000)).toBe(false)
  })

  // The failed flush itself, from the kernel's syncfs: the fault shim preloaded into a process
  // that calls it through the built addon (dist/).
  const failing = (errno: 'EIO' | 'ENOSPC'): { code: string, message: string, calls: number } => {
    const root = tmpDir()
    const dir = join(root, 'tmp')
    mkdirSync(dir)
    const f = faultEnv({ dir: root, ops: ['fsync'], nth: 1, errno })
    const script = `import { syncFileSystem } from ${JSON.stringify(join(repo, 'dist', 'storage', 'index.js'))}
      try { process.stdout.write(JSON.stringify({ ok: await syncFileSystem(${JSON.stringify(dir)}) })) } catch (e) { process.stdout.write(JSON.stringify({ code: e.code, message: e.message })) }`
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...f.env, PATH: '/nonexistent' }, encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    return { ...JSON.parse(r.stdout) as { code: string, message: string }, calls: faultResult(f).calls }
  }

  it.runIf(faultShim() !== undefined && existsSync(join(repo, 'dist', 'storage', 'index.js')))('a syncfs that fails is the coded error of a failed fsync (EIO: IO_ERROR, ENOSPC: DISK_FULL), in the process itself', () => {
    // PATH holds no shell: the helper could not have answered.
    const eio = failing('EIO')
    expect(eio).toMatchObject({ code: 'IO_ERROR', calls: 1 })
    expect(eio.message).toContain('syncfs')
    expect(failing('ENOSPC')).toMatchObject({ code: 'DISK_FULL', calls: 1 })
  })
})
