import { describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { NodeLock } from '../../../src/storage/index.js'
import { lockHolders, processCommand, processStopped, processStopState } from '../../../src/util/index.js'
import { stoppedLockHolder } from '../../helpers/stopped-holder.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

// Who holds node.lock, from /proc/locks: a starting node names the holder, and says when it is stopped.
describe('lockHolders', () => {
  it('lists this process while it holds an SQLite lock on the file, and nobody after', () => {
    const dir = tmpDir()
    const lock = NodeLock.tryAcquire(dir)
    expect(lock).toBeDefined()
    expect(lockHolders(join(dir, 'node.lock'))).toEqual([process.pid])
    lock?.release()
    expect(lockHolders(join(dir, 'node.lock'))).toEqual([])
    expect(lockHolders(join(dir, 'absent'))).toBeUndefined()
  })

  it('names another process that holds it, stopped or running, with its command line', async () => {
    const file = join(tmpDir(), 'node.lock')
    const { pid, exited, kill } = await stoppedLockHolder(file, { keeps: false })
    try {
      expect(lockHolders(file)).toEqual([pid])
      expect(processCommand(pid)).toContain('BEGIN EXCLUSIVE')
      expect(processCommand(pid, 20)).toHaveLength(20)
      process.kill(pid, 'SIGCONT')
      await exited
      expect(lockHolders(file)).toEqual([])
    } finally {
      kill()
    }
    expect(processStopped(process.pid)).toBe(false)
  }, 30_000)

  // strace holds a thread for an instant at each system call, in the same state ('t') as a
  // debugger's stop: status said such a node was stopped and to end it with `kill -9`.
  it.skipIf(spawnSync('strace', ['-o', '/dev/null', 'true']).status !== 0)('a busy process under `strace -f` is not taken for stopped', async () => {
    const busy = 'const fs = require("node:fs"); process.stdout.write("go\\n"); for (;;) fs.statSync("/")'
    const strace = spawn('strace', ['-f', '-o', '/dev/null', process.execPath, '-e', busy], { stdio: ['ignore', 'pipe', 'ignore'] })
    let pid = 0
    try {
      await new Promise<void>((resolve, reject) => { strace.stdout.once('data', () => { resolve() }); strace.once('exit', () => { reject(new Error('strace ended')) }) })
      pid = Number(readFileSync(`/proc/${strace.pid ?? 0}/task/${strace.pid ?? 0}/children`, 'utf8').trim().split(' ')[0])
      let traced = 0
      for (let i = 0; i < 100; i++) if (processStopState(pid) !== undefined) traced++
      expect(traced).toBe(0)
    } finally {
      // The tracee outlives its tracer, detached: ended first.
      if (pid > 0) process.kill(pid, 'SIGKILL')
      strace.kill('SIGKILL')
    }
  }, 30_000)

  // A tracer attached to one thread of a process stopped with Ctrl-Z (as a debugger attaching
  // takes them one by one): the others are still in the job stop ('T'). Stopped all the same.
  it.skipIf(spawnSync('strace', ['-o', '/dev/null', 'true']).status !== 0)('a stopped process a tracer holds by one thread is stopped', async () => {
    const { pid, kill } = await stoppedLockHolder(join(tmpDir(), 'node.lock'), { keeps: false })
    const strace = spawn('strace', ['-o', '/dev/null', '-p', String(pid)], { stdio: 'ignore' })
    try {
      await waitFor(() => /\) t /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')), { what: 'the tracer to hold the main thread', timeout: 10_000 })
      expect(readdirSync(`/proc/${pid}/task`).length).toBeGreaterThan(1)
      expect(processStopState(pid)).toBe('traced')
    } finally {
      strace.kill('SIGKILL')
      kill()
    }
  }, 30_000)
})
