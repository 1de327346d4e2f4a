import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { NodeLock } from '../../../src/storage/index.js'
import { lockHolders, processCommand, processStopped } from '../../../src/util/index.js'
import { stoppedLockHolder } from '../../helpers/stopped-holder.js'
import { tmpDir } from '../../helpers/tmp.js'

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
})
