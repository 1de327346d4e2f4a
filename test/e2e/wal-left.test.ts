// A CLI command that ends leaves chain.db's and query.db's -wal (and -shm) in place instead of
// checkpointing and deleting them at its last close (storage's leaveConnectionsAtExit;
// docs/data-directory.md, "WAL files left in place"): nothing acknowledged may be lost by it, and
// every kind of reader must still see every commit — another command, a copy of the directory
// without its -shm files (what a reboot leaves of them that matters), a user who cannot write the
// directory, a command killed (-9) after or before its commit on top of a left -wal, and a mirror
// whose -wal a power cut lost whole.
import { describe, expect, it } from 'vitest'
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { CLI, petal } from '../helpers/cli.js'
import { asRoot, otherUserCanRun } from '../helpers/other-user.js'
import { tmpDir } from '../helpers/tmp.js'

async function tip (dir: string): Promise<number> {
  const r = await petal(['--dir', dir, '--json', 'status'])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { tip: { height: number } }).tip.height
}

async function rows (dir: string): Promise<number> {
  const r = await petal(['--dir', dir, 'query', 'SELECT count(*) AS n FROM t'])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { n: number }).n
}

async function chainWithImport (): Promise<string> {
  const dir = join(tmpDir(), 'data')
  expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
  const r = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'a.db'), 100, 1)])
  expect(r.code, r.stderr).toBe(0)
  return dir
}

describe('chain.db-wal and query.db-wal left by a command that ended', () => {
  it('are left by signimportblock, and the next commands, and a copy without the -shm files, see every commit', async () => {
    const dir = await chainWithImport()
    for (const f of ['chain.db-wal', 'chain.db-shm', 'query.db-wal', 'query.db-shm']) expect(existsSync(join(dir, f)), f).toBe(true)
    expect(await tip(dir)).toBe(1)
    expect(await rows(dir)).toBe(100)
    const copy = join(tmpDir(), 'copy')
    cpSync(dir, copy, { recursive: true })
    for (const f of readdirSync(copy).filter(f => f.endsWith('-shm'))) rmSync(join(copy, f))
    expect(await tip(copy)).toBe(1)
    expect(await rows(copy)).toBe(100)
    const r = await petal(['--dir', copy, 'signimportblock', makeSqlite(join(tmpDir(), 'b.db'), 100, 2)])
    expect(r.code, r.stderr).toBe(0)
    expect(await tip(copy)).toBe(2)
    expect(await rows(copy)).toBe(200)
    const v = await petal(['--dir', copy, 'verify', '--deep'])
    expect(v.code, v.stderr).toBe(0)
  })

  it('lose nothing to a kill -9 after or before the next import commits; a mirror -wal lost whole is caught up', async () => {
    const dir = await chainWithImport()
    // Killed after its commit (before the mirror and the exit): the block is there.
    const after = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'b.db'), 100, 2)], { env: { PETAL_FAILPOINT: 'tx:committed' } })
    expect(after.code).toBeNull()
    expect(await tip(dir)).toBe(2)
    // Killed before its commit: nothing of it, and the next import takes its height.
    const before = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'c.db'), 100, 3)], { env: { PETAL_FAILPOINT: 'sign-import:prepared' } })
    expect(before.code).toBeNull()
    expect(await tip(dir)).toBe(2)
    // The mirror commits with synchronous = NORMAL: a power cut may lose its -wal. It is derived:
    // the next query brings it back to the chain.
    for (const f of ['query.db-wal', 'query.db-shm']) rmSync(join(dir, f), { force: true })
    expect(await rows(dir)).toBe(200)
    const r = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'd.db'), 100, 4)])
    expect(r.code, r.stderr).toBe(0)
    expect(await tip(dir)).toBe(3)
    expect(await rows(dir)).toBe(300)
    const v = await petal(['--dir', dir, 'verify', '--deep'])
    expect(v.code, v.stderr).toBe(0)
  })

  it.skipIf(!otherUserCanRun)('are read by a user who cannot write the directory, with or without the -shm files', async () => {
    const dir = await chainWithImport()
    const base = mkdtempSync(join(tmpdir(), 'petal-ro-'))
    const noShm = join(base, 'no-shm')
    const withShm = join(base, 'with-shm')
    cpSync(dir, withShm, { recursive: true })
    cpSync(dir, noShm, { recursive: true })
    for (const f of readdirSync(noShm).filter(f => f.endsWith('-shm'))) rmSync(join(noShm, f))
    spawnSync('chmod', ['-R', asRoot ? 'a+rX,go-w' : 'a-w', base])
    try {
      for (const d of [withShm, noShm]) {
        const run = (...args: string[]): { status: number | null, stdout: string, stderr: string } => {
          const cmd = asRoot ? ['runuser', '-u', 'nobody', '--', process.execPath] : [process.execPath]
          return spawnSync(cmd[0] as string, [...cmd.slice(1), CLI, '--dir', d, ...args], { encoding: 'utf8' })
        }
        const s = run('--json', 'status')
        expect(s.status, s.stderr).toBe(0)
        expect((JSON.parse(s.stdout) as { tip: { height: number } }).tip.height, d).toBe(1)
        const q = run('query', 'SELECT count(*) AS n FROM t')
        expect(q.status, q.stderr).toBe(0)
        expect(JSON.parse(q.stdout), d).toEqual({ n: 100 })
      }
    } finally {
      spawnSync('chmod', ['-R', 'u+w', base])
      rmSync(base, { recursive: true, force: true })
    }
  })
})
