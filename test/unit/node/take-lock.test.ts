import { describe, expect, it } from 'vitest'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { takeNodeLock } from '../../../src/node/take-lock.js'
import { refuseBesidePull, runningNodeRole, writeNodeState } from '../../../src/node/state-file.js'
import { lockHolders, processStopped } from '../../../src/util/index.js'
import { pullNodeState, stoppedLockHolder } from '../../helpers/stopped-holder.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

function caught (fn: () => unknown): { code?: string, message: string, hint?: string } {
  try { fn() } catch (err) { return err as { code?: string, message: string, hint?: string } }
  throw new Error('did not throw')
}

// LOCK_HOLDER_STOPPED's hint must be true of every stopped holder no node-state.json names: a look
// (lets go once resumed), and a node or a pull stopped before it wrote its file (keeps the lock).
describe('node.lock beside a stopped holder', () => {
  it('a node or a pull stopped as it started: the hint does not promise that resuming it frees node.lock', async () => {
    const dir = tmpDir()
    const file = join(dir, 'node.lock')
    // Takes the lock as a node does and keeps it after it is resumed, as a node would.
    const { pid, exited, kill } = await stoppedLockHolder(file, { keeps: true })
    try {
      const err = caught(() => takeNodeLock(dir))
      expect(err).toMatchObject({ code: 'LOCK_HOLDER_STOPPED', message: expect.stringContaining(`process ${pid}`) })
      expect(err.hint).toContain(`kill -CONT ${pid}`)
      expect(err.hint).toMatch(/a node or a pull stopped as it started keeps node\.lock once resumed: end that one/)
      // Resumed, it keeps the lock, as the hint says; ended, the lock is free.
      process.kill(pid, 'SIGCONT')
      await waitFor(() => !processStopped(pid), { what: 'the holder to resume', timeout: 10_000 })
      expect(caught(() => takeNodeLock(dir))).toMatchObject({ code: 'ALREADY_RUNNING', message: expect.stringContaining(`another process (pid ${pid}`) })
      process.kill(pid, 'SIGTERM')
      await exited
      expect(lockHolders(file)).toEqual([])
      takeNodeLock(dir).release()
    } finally {
      kill()
    }
  }, 30_000)

  it('a pull named by node-state.json and stopped: ALREADY_RUNNING says it is stopped, and how to resume or end it', async () => {
    const dir = tmpDir()
    const file = join(dir, 'node.lock')
    const { pid, exited, kill } = await stoppedLockHolder(file, { keeps: true })
    try {
      // Written here for the holder, so without state_lock (as an older Petal's): this process,
      // not the holder, would hold node-state.lock, and a file that says so names its holder.
      writeFileSync(join(dir, 'node-state.json'), JSON.stringify(pullNodeState(pid)))
      const err = caught(() => takeNodeLock(dir))
      expect(err).toMatchObject({ code: 'ALREADY_RUNNING', message: expect.stringContaining(`a pull (pid ${pid}, stopped) is already running`) })
      expect(err.hint).toContain(`kill -CONT ${pid}`)
      // seal, signimportblock and reseal are told the same.
      const seal = caught(() => { refuseBesidePull(dir, 'petal seal') })
      expect(seal).toMatchObject({ code: 'ALREADY_RUNNING', message: expect.stringContaining(`a pull (pid ${pid}, stopped) holds`) })
      expect(seal.hint).toContain(`kill -CONT ${pid}`)
      // Resumed, it is a running pull again: the plain hint.
      process.kill(pid, 'SIGCONT')
      await waitFor(() => !processStopped(pid), { what: 'the holder to resume', timeout: 10_000 })
      const again = caught(() => takeNodeLock(dir))
      expect(again).toMatchObject({ code: 'ALREADY_RUNNING', message: expect.stringContaining(`a pull (pid ${pid}) is already running`) })
      expect(again.hint).toMatch(/^wait for the pull to end/)
      expect(caught(() => { refuseBesidePull(dir, 'petal seal') }).hint).toMatch(/^wait for the pull to end \(after its verify\), then run `petal seal` again/)
      process.kill(pid, 'SIGTERM')
      await exited
    } finally {
      kill()
    }
  }, 30_000)

  // A process a debugger holds (state 't') ignores SIGCONT and acts on no signal but SIGKILL.
  it.skipIf(spawnSync('gdb', ['--version']).status !== 0)('a holder a debugger holds: the first command the hint gives frees node.lock', async ctx => {
    const dir = tmpDir()
    const file = join(dir, 'node.lock')
    // A look stopped mid-look (resumed, it lets go), which a debugger then attaches to.
    const { pid, kill } = await stoppedLockHolder(file, { keeps: false })
    const gdb = spawn('gdb', ['-nx', '-q', '-batch', '-p', String(pid), '-ex', 'shell sleep 60'], { stdio: 'ignore' })
    let gdbEnded = false
    gdb.on('exit', () => { gdbEnded = true })
    try {
      await waitFor(() => gdbEnded || /\) t /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')), { what: 'the debugger to hold the look', timeout: 20_000 })
      // gdb could not attach (ptrace not permitted here: Yama's ptrace_scope, a container without CAP_SYS_PTRACE).
      if (gdbEnded) { ctx.skip(); return }
      const err = caught(() => takeNodeLock(dir))
      expect(err).toMatchObject({ code: 'LOCK_HOLDER_STOPPED', message: expect.stringContaining(`process ${pid}`) })
      const command = [...(err.hint ?? '').matchAll(/`([^`]+)`/g)].map(m => m[1]).find(c => c !== 'fg')
      execFileSync('sh', ['-c', command ?? 'false'])
      // (Its exit is the debugger's to reap first: the lock, freed as it exits, is what counts.)
      await waitFor(() => lockHolders(file)?.length === 0, { what: `node.lock to be free after \`${command ?? ''}\``, timeout: 5_000 })
      takeNodeLock(dir).release()
    } finally {
      kill()
      gdb.kill('SIGKILL')
    }
  }, 40_000)

  it('a killed pull\'s file whose pid a new process reuses, beside a look: seal is not refused, and no pull is said to run', async () => {
    const dir = tmpDir()
    const { kill } = await stoppedLockHolder(join(dir, 'node.lock'), { keeps: false })
    const other = spawn('sleep', ['60'], { stdio: 'ignore' })
    try {
      await writeNodeState(dir, pullNodeState(other.pid ?? 0))
      expect(() => { refuseBesidePull(dir, 'petal seal') }).not.toThrow()
      expect(await runningNodeRole(dir, { waitMs: 0 })).toBe('unknown')
    } finally {
      other.kill('SIGKILL')
      kill()
    }
  }, 30_000)
})
