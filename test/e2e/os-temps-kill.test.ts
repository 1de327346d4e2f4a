import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI, petal, spawnPetal } from '../helpers/cli.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { importCheckBlock } from '../helpers/check-block.js'
import { asRoot, otherUserCanRun } from '../helpers/other-user.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// What a kill -9 leaves outside the data directory (session 44). The query mirror's slow path
// (a block SQLite cannot load into a writable connection), a read-only directory's snapshot and
// the API's export of a read-only directory each made a `petal-*-XXXXXX` directory in the system's
// temporary directory and removed it in a `finally`: a kill in between left it for good (a
// snapshot is a copy of a database). The mirror's copy is now in the data directory's tmp/; the
// others, where no data directory can be written, are named by their writer and removed by the
// next one of their kind once it is gone (docs/data-directory.md, the table of temporary names).

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'keys')
const tmpFiles = (dir: string): string[] => existsSync(join(dir, 'tmp')) ? readdirSync(join(dir, 'tmp')) : []
const named = (d: string, kind: string): string[] => readdirSync(d).filter(n => n.startsWith(`${kind}-`))

/** Wait for the process to stop at its pausepoint; its pid (written in the pause file by the process itself). */
async function pausedPid (pause: string, ended: () => boolean): Promise<number> {
  await waitFor(() => { if (ended()) throw new Error('the process ended before its pausepoint'); return existsSync(pause) && readFileSync(pause, 'utf8').endsWith('\n') }, { what: 'the pausepoint' })
  return Number(readFileSync(pause, 'utf8').trim())
}

/** A directory the user nobody may write (the system's temporary directory of the processes run as nobody). */
function nobodysDir (): string {
  const d = tmpDir()
  chmodSync(d, 0o1777)
  return d
}

/** A copy of `dir` that nobody may read but not write, without its -shm files (what a reboot leaves). */
function readOnlyCopy (dir: string): { base: string, copy: string } {
  const base = tmpDir()
  const copy = join(base, 'ro')
  cpSync(dir, copy, { recursive: true })
  for (const f of readdirSync(copy).filter(f => f.endsWith('-shm'))) rmSync(join(copy, f))
  spawnSync('chmod', ['-R', asRoot ? 'a+rX,go-w' : 'a-w', base])
  return { base, copy }
}

/** `petal ARGS` as nobody (root) or this user, with env; the child (runuser's, whose child is petal). */
function spawnAsOther (args: string[], env: Record<string, string>): { exited: () => boolean, out: () => string, done: Promise<number | null>, stop: () => void } {
  const cmd = asRoot ? ['runuser', '-u', 'nobody', '--', process.execPath, CLI, ...args] : [process.execPath, CLI, ...args]
  const child = spawn(cmd[0] as string, cmd.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let exited = false
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const done = new Promise<number | null>(resolve => child.on('close', c => { exited = true; resolve(c) }))
  // runuser passes a SIGTERM on to its child.
  return { exited: () => exited, out: () => out, done, stop: () => { child.kill('SIGTERM') } }
}

describe('temporary directories after a kill, outside the data directory', () => {
  it('the query mirror\'s slow path copies a block into tmp/, which the next write cleans; nothing in the system\'s temporary directory', async () => {
    const key = fixtureKey('bob')
    const { chain, dir } = await newTestChain({ key })
    await importCheckBlock(chain, key, tmpDir())
    chain.close()
    const osTmp = tmpDir()
    const pause = join(tmpDir(), 'pause')
    const q = spawnPetal(['--dir', dir, 'query', 'SELECT g, n FROM guarded'], { env: { TMPDIR: osTmp, PETAL_PAUSE: 'mirror:slow-copy', PETAL_PAUSE_FILE: pause } })
    let ended = false
    void q.exit.then(() => { ended = true })
    const pid = await pausedPid(pause, () => ended)
    expect(tmpFiles(dir).filter(n => n.startsWith(`${pid}-`))).toHaveLength(1)
    expect(named(osTmp, 'petal-mirror')).toEqual([])
    process.kill(pid, 'SIGKILL')
    expect((await q.exit).signal).toBe('SIGKILL')
    rmSync(pause)
    expect(named(osTmp, 'petal-mirror')).toEqual([])
    expect(tmpFiles(dir)).toHaveLength(1)
    // The mirror still takes the block (its slow path, from the start), and the next write's recovery removes the killed copy.
    const again = await petal(['--dir', dir, 'query', 'SELECT g, n FROM guarded'], { env: { TMPDIR: osTmp } })
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout)).toEqual({ g: 'kept', n: 7 })
    expect((await petal(['--dir', dir, 'keys', 'import', join(FIXTURES, 'bob.pem'), '--default'])).code).toBe(0)
    const imported = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'a.db'), 5, 1)], { env: { TMPDIR: osTmp } })
    expect(imported.code, imported.stderr).toBe(0)
    expect(tmpFiles(dir)).toEqual([])
    expect(readdirSync(osTmp)).toEqual([])
  }, 60_000)

  it.skipIf(!otherUserCanRun)('a read-only directory\'s snapshot is named by its process, and the next snapshot removes a killed one\'s', async () => {
    const { dir } = await newTestChain({ key: fixtureKey('bob') })
    const w = await petal(['--dir', dir, 'query', 'SELECT count(*) FROM _blocks'])
    expect(w.code, w.stderr).toBe(0)
    const { base, copy } = readOnlyCopy(dir)
    const osTmp = nobodysDir()
    const pause = join(nobodysDir(), 'pause')
    try {
      const s = spawnAsOther(['--dir', copy, '--json', 'status'], { TMPDIR: osTmp, PETAL_PAUSE: 'snapshot:copied', PETAL_PAUSE_FILE: pause })
      const pid = await pausedPid(pause, s.exited)
      expect(named(osTmp, 'petal-snapshot')).toHaveLength(1)
      expect(named(osTmp, 'petal-snapshot')[0]).toMatch(new RegExp(`^petal-snapshot-${pid}-n[0-9]+-`))
      process.kill(pid, 'SIGKILL')
      await s.done
      rmSync(pause)
      expect(named(osTmp, 'petal-snapshot')).toHaveLength(1)
      // A live process's (this one's: it is alive, in this PID namespace) is kept; so is a name of
      // another namespace under a day old. The user must be the same: nobody's own directories.
      const ns = /[0-9]+/.exec(readlinkSync('/proc/self/ns/pid'))?.[0] ?? ''
      const live = join(osTmp, `petal-snapshot-${process.pid}-n${ns}-abcdef`)
      const foreign = join(osTmp, 'petal-snapshot-7-n1-ghijkl')
      for (const d of [live, foreign]) { mkdirSync(d); if (asRoot) chownSync(d, uidOf('nobody'), 0) }
      const again = spawnAsOther(['--dir', copy, '--json', 'status'], { TMPDIR: osTmp })
      expect(await again.done, again.out()).toBe(0)
      expect(named(osTmp, 'petal-snapshot').sort()).toEqual([`petal-snapshot-${process.pid}-n${ns}-abcdef`, 'petal-snapshot-7-n1-ghijkl'].sort())
    } finally {
      spawnSync('chmod', ['-R', 'u+w', base])
    }
  }, 60_000)

  it.skipIf(!otherUserCanRun)('the API\'s export of a read-only directory: a killed node\'s directory is removed by the next such export', async () => {
    const { dir } = await newTestChain({ key: fixtureKey('bob') })
    const rows = join(tmpDir(), 'rows.csv')
    writeFileSync(rows, 'k,v\n' + Array.from({ length: 20 }, (_, i) => `k${i},${i}\n`).join(''))
    expect((await petal(['--dir', dir, 'keys', 'import', join(FIXTURES, 'bob.pem'), '--default'])).code).toBe(0)
    const r = await petal(['--dir', dir, 'signimportblock', rows, '--table', 't'])
    expect(r.code, r.stderr).toBe(0)
    const { base, copy } = readOnlyCopy(dir)
    const osTmp = nobodysDir()
    const pause = join(nobodysDir(), 'pause')
    const serve = (env: Record<string, string>): ReturnType<typeof spawnAsOther> => spawnAsOther(['--dir', copy, 'serve', '--http', '127.0.0.1:0'], { TMPDIR: osTmp, ...env })
    const urlOf = async (s: ReturnType<typeof spawnAsOther>): Promise<string> => await waitFor(() => { if (s.exited()) throw new Error(s.out()); return /^(http:\/\/\S+)$/m.exec(s.out())?.[1] }, { what: 'the URL' })
    try {
      const first = serve({ PETAL_PAUSE: 'api:export-written', PETAL_PAUSE_FILE: pause })
      void fetch(`${await urlOf(first)}api/v1/tables/t/export?format=sqlite`).then(async x => await x.arrayBuffer()).catch(() => {})
      const pid = await pausedPid(pause, first.exited)
      expect(named(osTmp, 'petal-export')).toEqual([expect.stringMatching(new RegExp(`^petal-export-${pid}-n[0-9]+-`))])
      process.kill(pid, 'SIGKILL')
      await first.done
      rmSync(pause)
      expect(named(osTmp, 'petal-export')).toHaveLength(1)
      const second = serve({})
      try {
        const x = await fetch(`${await urlOf(second)}api/v1/tables/t/export?format=sqlite`)
        expect(x.status).toBe(200)
        expect((await x.arrayBuffer()).byteLength).toBeGreaterThan(0)
        await waitFor(() => named(osTmp, 'petal-export').length === 0, { what: 'the export directories to be removed' })
      } finally {
        second.stop()
        await second.done
      }
    } finally {
      spawnSync('chmod', ['-R', 'u+w', base])
    }
  }, 90_000)
})

function uidOf (user: string): number {
  return Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim())
}
