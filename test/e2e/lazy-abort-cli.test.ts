import { afterEach, describe, expect, it } from 'vitest'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { petal, spawnPetal, type Spawned } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// Since session 43 (import43, util/lazy-abort.ts) a local write reads the command's abort through
// a probe that makes no AbortController until something listens. The real CLI must still stop on
// Ctrl-C wherever it waits: in a wait for the write lock (the lock's sleeps listen through the
// probe) and at a pausepoint (its sleeps too), with nothing sealed.

// Every writer this file starts, ended after each test whatever it asserted: an assertion that
// failed before a Ctrl-C left that writer paused for good (at its pausepoint, or waiting behind it).
const started: Spawned[] = []
function start (...args: Parameters<typeof spawnPetal>): Spawned {
  const p = spawnPetal(...args)
  started.push(p)
  return p
}
afterEach(async () => {
  for (const p of started.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL')
    await p.exit
  }
})

async function newDir (): Promise<string> {
  const dir = join(tmpDir(), 'data')
  expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
  return dir
}

describe('a local write stopped with Ctrl-C where it waits', () => {
  it('in a wait for the write lock, and at a pausepoint with the lock held', async () => {
    const dir = await newDir()
    const pause = join(tmpDir(), 'pause')
    const first = start(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'a.db'), 20)], { env: { PETAL_PAUSE: 'sign-import:locked', PETAL_PAUSE_FILE: pause } })
    await waitFor(() => existsSync(pause), { what: 'the first writer to hold the lock' })
    const second = start(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'b.db'), 3)])
    let said = ''
    second.child.stderr?.on('data', (d: Buffer) => { said += d.toString() })
    await waitFor(() => said.includes('to finish writing to this data directory'), { what: 'the second writer to wait for the lock' })
    second.child.kill('SIGINT')
    const r2 = await second.exit
    expect(r2.code, r2.stderr).toBe(130)
    expect(existsSync(pause), 'the first writer is still paused').toBe(true)
    first.child.kill('SIGINT')
    const r1 = await first.exit
    expect(r1.code, r1.stderr).toBe(130)
    rmSync(pause, { force: true })
    const s = JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout)
    expect(s.tip.height).toBe(0)
  })
})
