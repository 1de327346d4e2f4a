import { describe, expect, it } from 'vitest'
import { createHook } from 'node:async_hooks'
import { join } from 'node:path'
import { IndexDb } from '../../../src/storage/index.js'
import { tmpDir } from '../../helpers/tmp.js'

// A writer's wait for this process's other writers (the write lock's mutex) ends at --wait: until
// review41 by an AbortSignal.timeout made for each write, whose timer ran to its end whatever
// became of the wait (with --wait 3600, an hour-long timer for each write of a long import).

const WAIT_MS = 3_600_000

/** Run `f`, then say how many timers of WAIT_MS it made that are still set. */
async function timersLeft (f: () => Promise<void>): Promise<number> {
  const live = new Set<number>()
  const hook = createHook({
    init (id, type, _trigger, resource) { if (type === 'Timeout' && Reflect.get(resource as object, '_idleTimeout') === WAIT_MS) live.add(id) },
    destroy (id) { live.delete(id) }
  }).enable()
  try {
    await f()
    await new Promise(resolve => setImmediate(resolve)) // destroy hooks run after the tick
    return live.size
  } finally {
    hook.disable()
  }
}

describe('the write lock\'s wait for this process\'s other writers', () => {
  it('leaves no timer once it is over, whether the lock was free, waited for, or given up on (failed on f455b47: one timer per write)', async () => {
    const index = IndexDb.open(join(tmpDir(), 'chain.db'))
    try {
      // Free at once, and with a signal beside the time limit.
      expect(await timersLeft(async () => { await index.withWriteLock(async () => { index.setMeta('x', '1') }, { timeoutMs: WAIT_MS }) })).toBe(0)
      expect(await timersLeft(async () => { await index.withWriteLock(async () => { index.setMeta('x', '2') }, { timeoutMs: WAIT_MS, signal: new AbortController().signal }) })).toBe(0)
      // Waited for behind another writer of this process, and given up on by an abort.
      let open!: () => void
      const held = index.withWriteLock(async () => { await new Promise<void>(resolve => { open = resolve }) })
      const ac = new AbortController()
      expect(await timersLeft(async () => {
        const waiting = index.withWriteLock(async () => { index.setMeta('x', '3') }, { timeoutMs: WAIT_MS })
        const aborted = index.withWriteLock(async () => {}, { timeoutMs: WAIT_MS, signal: ac.signal })
        ac.abort()
        await expect(aborted).rejects.toMatchObject({ code: 'ABORTED' })
        open()
        await held
        await waiting
      })).toBe(0)
      expect(index.getMeta('x')).toBe('3')
      // The time limit itself still ends a wait.
      let open2!: () => void
      const held2 = index.withWriteLock(async () => { await new Promise<void>(resolve => { open2 = resolve }) })
      await expect(index.withWriteLock(async () => {}, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' })
      open2()
      await held2
    } finally {
      index.close()
    }
  })
})
