import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { prestartWorkers, takePrestartedWorker, WorkerPool, workerScript } from '../../../src/util/index.js'
import type { CrashRequest } from '../../helpers/crash-worker.js'
import { entryOf, loaderFor } from '../../helpers/src-entry.js'

describe('WorkerPool', () => {
  it('fails the task of a worker that dies with WORKER_DIED, and replaces the worker', async () => {
    const pool = new WorkerPool<CrashRequest, number>(workerScript(import.meta.url, '../../helpers/crash-worker.js'), 1)
    try {
      expect(await pool.run({ op: 'echo', value: 1 })).toBe(1)
      // Exits without an error event.
      await expect(pool.run({ op: 'exit' })).rejects.toMatchObject({ name: 'WorkerError', code: 'WORKER_DIED', details: { exitCode: 3 } })
      expect(await pool.run({ op: 'echo', value: 2 })).toBe(2)
      // Dies of an uncaught exception.
      await expect(pool.run({ op: 'throw' })).rejects.toMatchObject({ code: 'WORKER_DIED', message: expect.stringContaining('boom') })
      expect(await pool.run({ op: 'echo', value: 3 })).toBe(3)
      expect(pool.alive).toBe(1)
      // Tasks queued behind a dying one still run.
      const results = await Promise.allSettled([pool.run({ op: 'exit' }), pool.run({ op: 'echo', value: 4 }), pool.run({ op: 'echo', value: 5 })])
      expect(results.map(r => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled'])
    } finally {
      await pool.close()
    }
  }, 20_000)

  it('with depth 2 gives each worker two tasks at once, answers each with its own reply, and fails both given to a worker that dies', async () => {
    const pool = new WorkerPool<CrashRequest, number>(workerScript(import.meta.url, '../../helpers/crash-worker.js'), 1, { depth: 2 })
    try {
      // The worker holds a slow task and a quick one; each reply still reaches its own caller.
      expect(await Promise.all([pool.run({ op: 'echo', value: 1, delayMs: 50 }), pool.run({ op: 'echo', value: 2 }), pool.run({ op: 'echo', value: 3 })])).toEqual([1, 2, 3])
      const results = await Promise.allSettled([pool.run({ op: 'exit' }), pool.run({ op: 'echo', value: 4 }), pool.run({ op: 'echo', value: 5 })])
      expect(results.map(r => r.status)).toEqual(['rejected', 'rejected', 'fulfilled'])
      expect(results[1]).toMatchObject({ reason: { code: 'WORKER_DIED' } })
      expect(pool.alive).toBe(1)
    } finally {
      await pool.close()
    }
  }, 20_000)

  it('with depth 2 queues nothing behind a task run alone, nor such a task behind another', async () => {
    const pool = new WorkerPool<CrashRequest, number>(workerScript(import.meta.url, '../../helpers/crash-worker.js'), 2, { depth: 2 })
    try {
      // A long task alone on one worker: the next two go to the other, the third waits for a free slot.
      const first = [pool.run({ op: 'echo', value: 1, delayMs: 20 }, { alone: true }), pool.run({ op: 'echo', value: 2 }), pool.run({ op: 'echo', value: 3 }), pool.run({ op: 'echo', value: 4 })]
      expect(pool.waiting).toBe(1)
      expect(await Promise.all(first)).toEqual([1, 2, 3, 4])
      // Two workers each busy: a task run alone waits for an idle one instead of a busy one's port.
      const second = [pool.run({ op: 'echo', value: 5, delayMs: 20 }), pool.run({ op: 'echo', value: 6, delayMs: 20 }), pool.run({ op: 'echo', value: 7 }, { alone: true })]
      expect(pool.waiting).toBe(1)
      expect(await Promise.all(second)).toEqual([5, 6, 7])
      // Without it, the same four tasks all go to a worker at once.
      const plain = [pool.run({ op: 'echo', value: 8, delayMs: 20 }), pool.run({ op: 'echo', value: 9 }), pool.run({ op: 'echo', value: 10 }), pool.run({ op: 'echo', value: 11 })]
      expect(pool.waiting).toBe(0)
      expect(await Promise.all(plain)).toEqual([8, 9, 10, 11])
    } finally {
      await pool.close()
    }
  }, 20_000)

  it('adopts workers prestarted for its script (the router starts verify\'s early), as many as its size', async () => {
    const script = workerScript(import.meta.url, '../../helpers/crash-worker.js')
    if (!('file' in script)) throw new Error('the tests run worker entries from bundles')
    prestartWorkers(script.file, 3)
    const pool = new WorkerPool<CrashRequest, number>(script, 2)
    try {
      expect(await Promise.all([pool.run({ op: 'echo', value: 1 }), pool.run({ op: 'echo', value: 2 })])).toEqual([1, 2])
      // Two adopted, the third left; none for another script.
      expect(takePrestartedWorker(script.file + '.other')).toBeUndefined()
      const left = takePrestartedWorker(script.file)
      expect(left).toBeDefined()
      await left?.worker.terminate()
      expect(takePrestartedWorker(script.file)).toBeUndefined()
    } finally {
      await pool.close()
    }
  }, 20_000)

  it('rejects queued and running tasks when closed', async () => {
    const pool = new WorkerPool<CrashRequest, number>(workerScript(import.meta.url, '../../helpers/crash-worker.js'), 1)
    const running = pool.run({ op: 'throw' }).catch((e: unknown) => e)
    const queued = pool.run({ op: 'echo', value: 1 }).catch((e: unknown) => e)
    await pool.close()
    expect(await queued).toMatchObject({ code: 'ABORTED' })
    expect(await running).toMatchObject({ code: expect.stringMatching(/ABORTED|WORKER_DIED/) })
    await expect(pool.run({ op: 'echo', value: 1 })).rejects.toMatchObject({ code: 'ABORTED' })
  })

  it('rejects a running task only once its worker has stopped: a caller cleaning up after it cannot race the thread (a load thread creating a block file)', async () => {
    const pool = new WorkerPool<CrashRequest, number>(workerScript(import.meta.url, '../../helpers/crash-worker.js'), 1)
    expect(await pool.run({ op: 'echo', value: 1 })).toBe(1)
    const aliveAtRejection = pool.run({ op: 'echo', value: 2, delayMs: 30_000 }).then(() => -1, () => pool.alive)
    await pool.close()
    expect(await aliveAtRejection).toBe(0)
  })

  it('does not keep the process alive once its work is done (the CLI exits)', () => {
    // The helper and its workers as bundles (src-entry.ts): no TypeScript compiled in the child.
    const entry = entryOf(join(import.meta.dirname, '..', '..', 'helpers', 'pool-exit.ts'))
    const script = JSON.stringify(workerScript(import.meta.url, '../../helpers/crash-worker.js'))
    const r = spawnSync(process.execPath, [...loaderFor(entry), entry, script], { timeout: 30_000, encoding: 'utf8' })
    expect(r.signal, 'still running after 30 s').toBeNull()
    expect(r.stdout).toBe('echo 7\n')
    expect(r.status).toBe(0)
  }, 40_000)
})
