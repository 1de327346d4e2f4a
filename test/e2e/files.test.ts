import { beforeAll, describe, expect, it } from 'vitest'
import { execFileSync, spawn } from 'node:child_process'
import { cpSync, existsSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { petal, petalInProcess, spawnPetal, type Exit } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const mkfifo = (path: string): string => { execFileSync('mkfifo', [path]); return path }

/** A chain with three blocks (tables in each), made by the CLI in this process (a set-up, not what the tests check: no process of its own). */
async function chainDir (): Promise<string> {
  const dir = join(tmpDir(), 'data')
  expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
  for (let i = 1; i <= 3; i++) expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), `b${i}.db`), 10, i)])).code).toBe(0)
  return dir
}

let base: string
beforeAll(async () => { base = await chainDir() }, 60_000)
const copy = (): string => { const d = join(tmpDir(), 'copy'); cpSync(base, d, { recursive: true }); return d }

async function tipOf (dir: string): Promise<number> {
  const s = await petal(['--dir', dir, '--json', 'status'])
  return (JSON.parse(s.stdout) as { tip: { height: number } }).tip.height
}

describe('signimportblock input that is not a regular file', () => {
  it('refuses a named pipe, a process substitution, /dev/zero and a directory with NOT_REGULAR_FILE, sealing nothing', async () => {
    const dir = copy()
    const src = makeSqlite(join(tmpDir(), 'data.db'), 5)
    // Nobody ever writes to this pipe: opening it would block for ever.
    const fifo = mkfifo(join(tmpDir(), 'pipe.db'))
    for (const input of [fifo, '/dev/zero', tmpDir()]) {
      const r = await petal(['--dir', dir, 'signimportblock', input])
      expect(r.code, `${input}: ${r.stderr}`).toBe(3)
      expect(r.stderr).toContain('[NOT_REGULAR_FILE]')
      expect(r.stderr).toMatch(/hint: /)
    }
    // bash's <(…) hands petal /dev/fd/N, a pipe.
    const sub = await new Promise<Exit>(resolve => {
      const p = spawn('bash', ['-c', `exec "${process.execPath}" "${join(import.meta.dirname, '..', '..', 'bin', 'petal.js')}" --dir "${dir}" signimportblock <(cat "${src}")`], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      p.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      p.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) })
    })
    expect(sub.code, sub.stderr).toBe(3)
    expect(sub.stderr).toMatch(/\/dev\/fd\/\d+ is a pipe, not a regular file \[NOT_REGULAR_FILE\]/)
    expect(sub.stderr).toContain('cat … > data.db')
    expect(await tipOf(dir)).toBe(3)
  })

  it('refuses to seal an empty block unless --allow-empty; a block of key operations only is fine', async () => {
    const dir = copy()
    const empty = join(tmpDir(), 'empty.db')
    writeFileSync(empty, '')
    const r = await petal(['--dir', dir, 'signimportblock', empty])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('[EMPTY_BLOCK]')
    expect(r.stderr).toContain('--allow-empty')
    expect(await tipOf(dir)).toBe(3)
    const ok = await petal(['--dir', dir, 'signimportblock', '--allow-empty', empty])
    expect(ok.code, ok.stderr).toBe(0)
    expect(await tipOf(dir)).toBe(4)
  })

  it('reads a passphrase from a process substitution, and refuses an endless one', async () => {
    const dir = join(tmpDir(), 'keys')
    const run = async (sub: string): Promise<Exit> => await new Promise<Exit>(resolve => {
      const p = spawn('bash', ['-c', `exec "${process.execPath}" "${join(import.meta.dirname, '..', '..', 'bin', 'petal.js')}" --dir "${dir}" --passphrase-file <(${sub}) keygen`], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      p.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      p.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) })
    })
    const good = await run('echo secret')
    expect(good.code, good.stderr).toBe(0)
    expect(good.stdout).toContain('(encrypted)')
    const endless = await run('cat /dev/zero')
    expect(endless.code).toBe(2)
    expect(endless.stderr).toMatch(/--passphrase-file \/dev\/fd\/\d+ is longer than 65536 bytes \[USAGE\]/)
  })
})

describe('append input that never ends', () => {
  it('refuses /dev/zero past the records limit with a usage error and a hint, storing nothing', async () => {
    const dir = copy()
    const r = await petal(['--dir', dir, 'append', 'zeros', '/dev/zero'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(/records file \/dev\/zero is longer than \d+ bytes \[USAGE\]/)
    expect(r.stderr).toContain('hint: split the records into smaller files')
    const pending = await petal(['--dir', dir, '--json', 'status'])
    expect(JSON.stringify(JSON.parse(pending.stdout))).not.toContain('zeros')
  })
})

describe('files of the data directory that are not regular files', () => {
  it('a named pipe in a block slot: verify, verify --deep and reindex report it at once, with its code', async () => {
    const dir = copy()
    const slot = join(dir, '0000', 'block_00000002.db')
    rmSync(slot)
    mkfifo(slot)
    for (const args of [['verify'], ['verify', '--deep']]) {
      const r = await petal(['--dir', dir, '--json', ...args])
      expect(r.code, r.stderr).toBe(6)
      expect(JSON.parse(r.stdout.split('\n')[0] as string)).toMatchObject({ ok: false, failure: { height: 2, code: 'DATA_FILE_NOT_REGULAR' } })
    }
    const re = await petal(['--dir', dir, 'reindex'])
    expect(re.code).toBe(4)
    expect(re.stderr).toMatch(/block 2: block file .*block_00000002\.db is a named pipe \(FIFO\), not a regular file; chain\.db is left as it was \[DATA_FILE_NOT_REGULAR\]/)
  })

  it('a symlinked block slot is refused, though it points at the right bytes', async () => {
    const dir = copy()
    const slot = join(dir, '0000', 'block_00000001.db')
    const moved = join(tmpDir(), 'elsewhere.db')
    renameSync(slot, moved)
    symlinkSync(moved, slot)
    const r = await petal(['--dir', dir, '--json', 'verify'])
    expect(r.code).toBe(6)
    expect(JSON.parse(r.stdout.split('\n')[0] as string)).toMatchObject({ ok: false, failure: { height: 1, code: 'DATA_FILE_NOT_REGULAR' } })
  })

  it('a named pipe as chain.db, chainparams.json, a key file or pending.db is refused with the path, never waited on', async () => {
    const empty = join(tmpDir(), 'x.db')
    writeFileSync(empty, '')
    for (const [name, args] of [['chain.db', ['status']], ['chainparams.json', ['blocks']], ['keystore/default', ['signimportblock', '--allow-empty', empty]], ['pending.db', ['receipt', 'abcdefgh-1']]] as const) {
      const dir = copy()
      for (const f of ['chain.db-wal', 'chain.db-shm']) if (name === 'chain.db') rmSync(join(dir, f), { force: true })
      rmSync(join(dir, name), { force: true })
      mkfifo(join(dir, name))
      const r = await petal(['--dir', dir, ...args])
      expect(r.code, `${name}: ${r.stderr}`).toBe(4)
      expect(r.stderr).toContain(`${join(dir, name)} is a named pipe (FIFO), not a regular file`)
      expect(r.stderr).toContain('[DATA_FILE_NOT_REGULAR]')
    }
  })
})

describe('verify and reindex stop on SIGINT and SIGTERM', () => {
  // A worker held inside a block read (as a read from a stuck disk would hold it): the command
  // must still stop when told to, with status 130.
  for (const [cmd, sig] of [['verify', 'SIGINT'], ['verify', 'SIGTERM'], ['reindex', 'SIGINT'], ['reindex', 'SIGTERM']] as const) {
    it(`${cmd} on ${sig}`, async () => {
      const dir = copy()
      const pause = join(tmpDir(), 'pause')
      const run = spawnPetal(['--dir', dir, cmd], { env: { PETAL_PAUSE: 'verify-worker:read', PETAL_PAUSE_FILE: pause } })
      let exited = false
      void run.exit.then(() => { exited = true })
      await waitFor(() => existsSync(pause) || exited, { what: `${cmd} to start reading blocks` })
      expect(exited).toBe(false)
      run.child.kill(sig)
      const r = await run.exit
      expect(r.code, r.stderr).toBe(130)
      expect(r.stderr).toContain('petal: interrupted')
      rmSync(pause, { force: true })
      if (cmd === 'reindex') expect(await tipOf(dir)).toBe(3)
    })
  }
})
