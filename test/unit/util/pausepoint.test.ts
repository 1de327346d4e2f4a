import { afterEach, describe, expect, it } from 'vitest'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { pausepoint, WorkerPool, workerScript } from '../../../src/util/index.js'
import type { CrashRequest } from '../../helpers/crash-worker.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

afterEach(() => {
  delete process.env.PETAL_PAUSE
  delete process.env.PETAL_PAUSE_FILE
})

describe('pausepoint', () => {
  it('name@at holds a point passed many times at that place only, until the file is removed', async () => {
    const file = join(tmpDir(), 'pause')
    process.env.PETAL_PAUSE = 'sync:check@3'
    process.env.PETAL_PAUSE_FILE = file
    await pausepoint('sync:check', undefined, 2)
    await pausepoint('sync:check')
    await pausepoint('other', undefined, 3)
    expect(existsSync(file)).toBe(false)
    let released = false
    const held = pausepoint('sync:check', undefined, 3).then(() => { released = true })
    await waitFor(() => existsSync(file), { what: 'the pause file' })
    expect(released).toBe(false)
    rmSync(file)
    await held
    expect(released).toBe(true)
  })

  it('a plain name holds every pass', async () => {
    const file = join(tmpDir(), 'pause')
    process.env.PETAL_PAUSE = 'reindex:locked'
    process.env.PETAL_PAUSE_FILE = file
    const held = pausepoint('reindex:locked', undefined, 7)
    await waitFor(() => existsSync(file), { what: 'the pause file' })
    rmSync(file)
    await held
  })
})

describe('pausepointSync in worker threads', () => {
  // verify's worker threads share the pid and reach the same point together: each must announce
  // the pause without taking another's temporary file (ENOENT in session 49's official CI).
  it('several threads of one process pause at once, and each is released', async () => {
    const file = join(tmpDir(), 'pause')
    process.env.PETAL_PAUSE = 'test:held'
    process.env.PETAL_PAUSE_FILE = file
    const threads = 6
    const pool = new WorkerPool<CrashRequest, number>(workerScript(import.meta.url, '../../helpers/crash-worker.js'), threads)
    try {
      for (let round = 0; round < 5; round++) {
        let settled = false
        const held = Promise.allSettled(Array.from({ length: threads }, () => pool.run({ op: 'pause', name: 'test:held' })))
          .then(results => { settled = true; return results })
        await waitFor(() => existsSync(file), { what: 'the pause file' })
        // A thread that starts late announces its pause after the file was removed: remove it
        // again until every thread is released.
        while (!settled) {
          rmSync(file, { force: true })
          await new Promise(resolve => setTimeout(resolve, 20))
        }
        const results = await held
        expect(results.filter(r => r.status === 'rejected')).toEqual([])
      }
      expect(readdirSync(dirname(file)).filter(f => f.endsWith('.tmp'))).toEqual([])
    } finally {
      await pool.close()
    }
  }, 60_000)
})
