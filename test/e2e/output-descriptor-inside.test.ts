import { spawn, spawnSync } from 'node:child_process'
import { closeSync, openSync, readdirSync, readFileSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { petalInProcess } from '../helpers/cli.js'
import { petal } from '../helpers/node-process.js'
import { hashTree } from '../helpers/daisy.js'
import { tmpDir } from '../helpers/tmp.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'petal.js')
interface Run { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** `petal ARGS` with descriptor 3 open on `fd3` (if given), and /proc hidden when `noProcfs` (a private mount namespace). */
async function run (args: string[], o: { fd3?: number, noProcfs?: boolean } = {}): Promise<Run> {
  const node = [process.execPath, BIN, ...args].map(a => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const cmd = o.noProcfs === true ? ['unshare', '-rm', 'sh', '-c', `mount -t tmpfs none /proc && exec ${node}`] : ['sh', '-c', `exec ${node}`]
  const p = spawn(cmd[0] as string, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe', ...(o.fd3 === undefined ? [] : [o.fd3])] })
  let stdout = ''
  let stderr = ''
  p.stdout?.on('data', (d: Buffer) => { stdout += d.toString() })
  p.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  return await new Promise(resolve => { p.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) }) })
}

/** What must not change: every file of the data directory but chain.db-shm (SQLite's readers write their marks there). */
function contents (dir: string): Record<string, string> {
  const t = hashTree(dir)
  delete t['chain.db-shm']
  return t
}

/** A chain with a signed checkpoint, made by the CLI in this process (a set-up, not what the tests check). */
async function chain (): Promise<{ dir: string, key: string }> {
  const dir = join(tmpDir(), 'data')
  const init = await petalInProcess(['--dir', dir, 'init'])
  expect(init.code, init.stderr).toBe(0)
  const signed = await petalInProcess(['--dir', dir, 'checkpoint', '--sign'])
  expect(signed.code, signed.stderr).toBe(0)
  const key = readdirSync(join(dir, 'keystore')).find(n => n.endsWith('.json')) as string
  return { dir, key: join(dir, 'keystore', key) }
}

// `-o /dev/fd/N` is written as the descriptor is open; a path into the data directory was refused,
// but a descriptor open on one of its files was not: `3>> DIR/keystore/KEY.json` had the note
// appended to the key (KEY_FILE_INVALID), a block file's made verify fail; and where /proc is not
// mounted, checkGiven took every descriptor as given: /dev/fd/19 wrote over chain.db-wal and
// /dev/fd/7 and /dev/fd/12 (libuv's wake-up pipes) ended the command with SIGSEGV (mend34).
describe('-o /dev/fd/N open on a file of the data directory', () => {
  it('a descriptor the shell opened on the key file or a block file is refused (USAGE, the file named), the files unchanged', async () => {
    const { dir, key } = await chain()
    const block = join(dir, '0000', readdirSync(join(dir, '0000'))[0] as string)
    const before = contents(dir)
    for (const file of [key, block]) {
      const fd = openSync(file, 'a')
      try {
        const r = await run(['--dir', dir, 'checkpoint', '-o', '/dev/fd/3'], { fd3: fd })
        expect(r.code, r.stderr).toBe(2)
        expect(r.stderr).toContain(`descriptor 3 is open on ${realpathSync(file)}, in the data directory`)
        expect(r.stderr).toContain('`3>> FILE` in the shell')
      } finally {
        closeSync(fd)
      }
    }
    expect(contents(dir)).toEqual(before)
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
    expect((await petal(['--dir', dir, 'status'])).code).toBe(0)
    // One open on a file outside is written, as before.
    const out = join(tmpDir(), 'note.txt')
    const fd = openSync(out, 'a')
    const ok = await run(['--dir', dir, 'checkpoint', '-o', '/dev/fd/3'], { fd3: fd })
    closeSync(fd)
    expect(ok.code, ok.stderr).toBe(0)
    expect(readFileSync(out, 'utf8')).toContain('petal/')
  }, 120_000)

  const privateMounts = spawnSync('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs none /proc']).status === 0
  it.skipIf(!privateMounts)('without /proc: none of the process\'s own descriptors is written (no SIGSEGV, chain.db-wal intact); a given one is, one on the key file is refused (needs unshare -rm)', async () => {
    const { dir, key } = await chain()
    const before = contents(dir)
    for (let n = 3; n <= 24; n++) {
      const r = await run(['--dir', dir, 'checkpoint', '-o', `/dev/fd/${n}`], { noProcfs: true })
      expect({ n, signal: r.signal, refused: r.code === 2 }, r.stderr).toEqual({ n, signal: null, refused: true })
      expect(contents(dir)).toEqual(before)
    }
    const onKey = openSync(key, 'a')
    const refused = await run(['--dir', dir, 'checkpoint', '-o', '/dev/fd/3'], { fd3: onKey, noProcfs: true })
    closeSync(onKey)
    expect(refused.code, refused.stderr).toBe(2)
    expect(refused.stderr).toContain(`descriptor 3 is open on ${realpathSync(key)}`)
    const out = join(tmpDir(), 'note.txt')
    const given = openSync(out, 'a')
    const ok = await run(['--dir', dir, 'checkpoint', '-o', '/dev/fd/3'], { fd3: given, noProcfs: true })
    closeSync(given)
    expect(ok.code, ok.stderr).toBe(0)
    expect(readFileSync(out, 'utf8')).toContain('petal/')
    expect(contents(dir)).toEqual(before)
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
  }, 300_000)

  it('`3<> FILE` outside the data directory is written (it was refused as the process\'s own); one on the key file is refused', async () => {
    const { dir, key } = await chain()
    const out = join(tmpDir(), 'rw.txt')
    const rw = openSync(out, 'w+') // O_RDWR, as a shell's `3<> FILE`
    const ok = await run(['--dir', dir, 'checkpoint', '-o', '/dev/fd/3'], { fd3: rw })
    closeSync(rw)
    // Before: exit 2, "descriptor 3 (…/rw.txt) was not given to this command but opened by the process itself".
    expect(ok.code, ok.stderr).toBe(0)
    expect(readFileSync(out, 'utf8')).toContain('petal/')
    const before = contents(dir)
    const onKey = openSync(key, 'r+')
    const refused = await run(['--dir', dir, 'checkpoint', '-o', '/dev/fd/3'], { fd3: onKey })
    closeSync(onKey)
    expect(refused.code, refused.stderr).toBe(2)
    expect(refused.stderr).toContain(`descriptor 3 is open on ${realpathSync(key)}, in the data directory`)
    expect(contents(dir)).toEqual(before)
  }, 120_000)

  it('/proc/PID/fd/N of another process (a shell\'s $$) is written where that descriptor is open, in place; one not open is ENOENT on its own name; one on a file of the data directory is refused', async () => {
    const { dir, key } = await chain()
    const sh = async (script: string, ...args: string[]): Promise<Run> => {
      const p = spawn('sh', ['-c', script, 'sh', process.execPath, BIN, dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      p.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      return await new Promise(resolve => { p.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) }) })
    }
    const out = join(tmpDir(), 'shell.txt')
    // The shell writes on through its descriptor after the command: both land in the file.
    const r = await sh('exec 5>>"$4"; "$1" "$2" --dir "$3" checkpoint -o /proc/$$/fd/5 || exit $?; echo after >&5', out)
    // Before: the file was replaced by a new one, and the shell's descriptor wrote "after" into the old, deleted one.
    expect(r.code, r.stderr).toBe(0)
    expect(readFileSync(out, 'utf8')).toMatch(/^petal\/[\s\S]*\nafter\n$/)
    const missing = await sh('"$1" "$2" --dir "$3" checkpoint -o /proc/$$/fd/9')
    expect(missing.code).toBe(2)
    // Before: "ENOENT … open '/proc/PID/fd/9.PID.HEX.tmp'".
    expect(missing.stderr).toMatch(/ENOENT: no such file or directory, open '\/proc\/\d+\/fd\/9' \[USAGE\]/)
    const before = contents(dir)
    const inside = await sh('exec 5>>"$4"; "$1" "$2" --dir "$3" checkpoint -o /proc/$$/fd/5', key)
    expect(inside.code).toBe(2)
    expect(inside.stderr).toContain('in the data directory')
    expect(contents(dir)).toEqual(before)
  }, 120_000)
})
