import { describe, expect, it } from 'vitest'
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { petal, petalInProcess, spawnPetal, type Exit, type Spawned } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

/**
 * Two `petal reindex` that find chain.db missing at the same instant: both passed the check of
 * writer.json before either wrote its own, and both removed and rebuilt the index, the second
 * under the first (mend28's residual). Now the claim is one step under an exclusive lock
 * (reindex.lock): the second finds the first's record and is refused. The processes are real; the
 * interleaving is forced with pause files (PETAL_PAUSE, src/util/failpoint.ts), so the outcome
 * does not depend on how loaded the machine is.
 */
const POINTS = 'reindex:checked,reindex:replaced'

interface Paused { run: Spawned, file: string, exit: () => Exit | undefined }

function start (dir: string, args: string[] = ['reindex']): Paused {
  const file = join(tmpDir(), `pause-${Math.random().toString(36).slice(2)}`)
  const run = spawnPetal(['--dir', dir, ...args], { env: { PETAL_PAUSE: POINTS, PETAL_PAUSE_FILE: file } })
  let ended: Exit | undefined
  void run.exit.then(e => { ended = e })
  return { run, file, exit: () => ended }
}

/** Wait until `p` holds at its next pause point (or has ended: then undefined is returned). */
async function paused (p: Paused, what: string): Promise<boolean> {
  await waitFor(() => existsSync(p.file) || p.exit() !== undefined, { what })
  return existsSync(p.file)
}

async function lostIndex (): Promise<string> {
  const dir = join(tmpDir(), 'data')
  expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
  expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'a.db'), 20)])).code).toBe(0)
  for (const f of ['chain.db', 'chain.db-wal', 'chain.db-shm']) rmSync(join(dir, f), { force: true })
  return dir
}

describe('two reindexes of a lost chain.db', () => {
  it('both past the check at once: the first claims and rebuilds, the second is refused and leaves its file alone', async () => {
    const dir = await lostIndex()
    const a = start(dir)
    const b = start(dir)
    try {
      // Both have found chain.db missing and no live reindex named in writer.json.
      expect(await paused(a, 'the first reindex to pass its check')).toBe(true)
      expect(await paused(b, 'the second reindex to pass its check')).toBe(true)
      // The first claims: writes its record, makes the new empty chain.db, and holds there.
      rmSync(a.file)
      await waitFor(() => existsSync(a.file) || a.exit() !== undefined, { what: 'the first reindex to replace chain.db' })
      expect(a.exit()).toBeUndefined()
      const made = statSync(join(dir, 'chain.db')).ino
      expect(JSON.parse(readFileSync(join(dir, 'writer.json'), 'utf8'))).toMatchObject({ pid: a.run.child.pid, work: 'reindex' })
      // The second goes on from its check. Before, it wrote its own record, removed the first's new
      // file and made another (and held at reindex:replaced in turn).
      rmSync(b.file)
      const bHeld = await paused(b, 'the second reindex to end or replace chain.db')
      expect(bHeld, 'the second reindex replaced chain.db under the first').toBe(false)
      const second = await b.run.exit
      expect(second.code, second.stderr).toBe(4)
      expect(second.stderr).toContain(`pid ${a.run.child.pid ?? 0} (reindex, since`)
      expect(second.stderr).toContain(`hint: wait for that reindex to finish (pid ${a.run.child.pid ?? 0}), then run the command again`)
      expect(statSync(join(dir, 'chain.db')).ino).toBe(made)
      // A third, started now, finds the first's new (still empty) file: refused alike, not a second
      // rebuild of that file.
      const third = await petal(['--dir', dir, 'reindex', '--wait', '0'])
      expect(third.code, third.stderr).toBe(4)
      expect(third.stderr).toContain(`hint: wait for that reindex to finish (pid ${a.run.child.pid ?? 0})`)
      rmSync(a.file)
      const first = await a.run.exit
      expect(first.code, first.stderr).toBe(0)
      expect(first.stdout).toContain('reindexed 2 blocks up to height 1')
      expect(statSync(join(dir, 'chain.db')).ino).toBe(made)
      expect(existsSync(join(dir, 'writer.json'))).toBe(false)
      expect(JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout)).toMatchObject({ tip: { height: 1 } })
    } finally {
      for (const p of [a, b]) { rmSync(p.file, { force: true }); p.run.child.kill('SIGKILL') }
    }
  })

  it('a claim left by a killed reindex (its writer.json) is taken over, over its empty file or none', async () => {
    const dir = await lostIndex()
    for (const lose of [false, true]) {
      const a = start(dir)
      try {
        expect(await paused(a, 'the reindex to pass its check')).toBe(true)
        rmSync(a.file)
        await waitFor(() => existsSync(a.file) || a.exit() !== undefined, { what: 'the reindex to replace chain.db' })
        expect(a.exit()).toBeUndefined()
        a.run.child.kill('SIGKILL')
        await a.run.exit
      } finally {
        rmSync(a.file, { force: true })
        a.run.child.kill('SIGKILL')
      }
      // Its record names a dead process; its new chain.db is empty, or lost too.
      expect(JSON.parse(readFileSync(join(dir, 'writer.json'), 'utf8'))).toMatchObject({ pid: a.run.child.pid, work: 'reindex' })
      if (lose) for (const f of ['chain.db', 'chain.db-wal', 'chain.db-shm']) rmSync(join(dir, f), { force: true })
      const r = await petal(['--dir', dir, 'reindex', '--wait', '0'])
      expect(r.code, r.stderr).toBe(0)
      expect(existsSync(join(dir, 'writer.json'))).toBe(false)
      expect(JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout)).toMatchObject({ tip: { height: 1 } })
      for (const f of ['chain.db', 'chain.db-wal', 'chain.db-shm']) rmSync(join(dir, f), { force: true })
    }
  })
})
