import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { NodeLock } from '../../../src/storage/index.js'
import { lockHolders, processCommand, processStopped } from '../../../src/util/index.js'
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
    const code = "const db = new (require('better-sqlite3'))(process.argv[1]); db.exec('BEGIN EXCLUSIVE'); process.kill(process.pid, 'SIGSTOP'); db.close()"
    const child = spawn(process.execPath, ['-e', code, file], { cwd: process.cwd(), stdio: 'ignore' })
    const exit = once(child, 'exit')
    const pid = child.pid ?? 0
    try {
      await waitFor(() => processStopped(pid), { what: 'the holder to stop', timeout: 10_000 })
      expect(lockHolders(file)).toEqual([pid])
      expect(processCommand(pid)).toContain('BEGIN EXCLUSIVE')
      expect(processCommand(pid, 20)).toHaveLength(20)
      process.kill(pid, 'SIGCONT')
      await exit
      expect(lockHolders(file)).toEqual([])
    } finally {
      child.kill('SIGKILL')
    }
    expect(processStopped(process.pid)).toBe(false)
  }, 30_000)
})
