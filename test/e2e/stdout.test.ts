// Standard output written with write(2) (src/cli/stdout.ts): what happens when a write fails or
// would wait for a reader that stopped reading.
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { CLI, petal, petalInProcess } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const BIG = 'SELECT hex(zeroblob(150000)) AS x'

interface StalledRun { pid: number, stop: () => void }

/**
 * `petal ARGS` writing into a pipe whose reader takes the first 10 bytes and then reads no more (a
 * pager left open, a stuck consumer); resolves once those bytes arrived, with petal's pid. `status`:
 * a file that then gets petal's exit status; `stderr`: a file for its stderr (else discarded).
 * `stop()` kills the shell, petal and the reader.
 */
async function stalledReader (work: string, args: string[], o: { name?: string, status?: string, stderr?: string, timeout?: number, preload?: string } = {}): Promise<StalledRun> {
  const name = o.name ?? 'run'
  const pidFile = join(work, `pid-${name}`)
  const preload = join(work, `pid-${name}.cjs`)
  writeFileSync(preload, `require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid))\n${o.preload ?? ''}`)
  const first = join(work, `first-${name}`)
  const run = o.status === undefined ? '"$@"' : `{ "$@"; echo $? > ${JSON.stringify(o.status)}; }`
  const errFd = o.stderr === undefined ? 'ignore' : openSync(o.stderr, 'w')
  const shell = spawn('sh', ['-c', `${run} | { head -c 10 > ${JSON.stringify(first)}; exec sleep 120; }`, 'sh', process.execPath, '--require', preload, CLI, ...args], { stdio: ['ignore', 'ignore', errFd], detached: true })
  if (typeof errFd === 'number') closeSync(errFd)
  const stop = (): void => { try { process.kill(-(shell.pid ?? 0), 'SIGKILL') } catch {} }
  try {
    await waitFor(() => existsSync(first) && readFileSync(first).length === 10 && existsSync(pidFile) && readFileSync(pidFile, 'utf8') !== '', { timeout: o.timeout })
  } catch (err) {
    stop()
    throw err
  }
  return { pid: Number(readFileSync(pidFile, 'utf8')), stop }
}

/** The highest resident size (MiB) of process `pid` seen in `rounds` looks 250 ms apart, stopping at `limit`. */
async function peakRssMiB (pid: number, limit: number, rounds: number): Promise<number> {
  let peak = 0
  for (let i = 0; i < rounds && peak < limit; i++) {
    peak = Math.max(peak, Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  return peak
}

describe('stdout', () => {
  it.skipIf(!existsSync('/dev/full'))('a write that fails (a full disk: /dev/full) ends the command with OUTPUT_FAILED and status 4, not silently with 0', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const work = tmpDir()
    for (const args of [['status'], ['--json', 'status'], ['query', BIG]]) {
      const err = join(work, 'err.txt')
      const out = openSync('/dev/full', 'w')
      const errFd = openSync(err, 'w')
      let r
      try {
        r = spawnSync(process.execPath, [CLI, '--dir', dir, ...args], { stdio: ['ignore', out, errFd] })
      } finally {
        closeSync(out)
        closeSync(errFd)
      }
      const stderr = readFileSync(err, 'utf8')
      expect(r.status, `${args.join(' ')}: ${stderr}`).toBe(4)
      expect(stderr, args.join(' ')).toMatch(/^petal: error: standard output could not be written: ENOSPC: .* \[OUTPUT_FAILED\]\n {2}hint: free space /)
    }
  })

  it.skipIf(!existsSync('/dev/full'))('a write to stderr that fails (2>/dev/full) leaves the command\'s status, not an uncaught exception\'s 1', () => {
    // Nobody can be told (stderr is where they would be): the status is all that is left to say it.
    const dir = join(tmpDir(), 'absent')
    for (const [args, want] of [[['--bogus'], 2], [['--dir', dir, 'status'], 4]] as const) {
      const full = openSync('/dev/full', 'w')
      let r
      try {
        r = spawnSync(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', full] })
      } finally {
        closeSync(full)
      }
      expect(r.status, args.join(' ')).toBe(want)
    }
  })

  it('a pipe is written without node:stream, and a reader that stops reading does not keep one Ctrl-C or one SIGTERM from ending the command', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const work = tmpDir()
    // The pipe written directly: no stream module loaded (the point of writing it with write(2)).
    const list = join(work, 'modules.txt')
    writeFileSync(join(work, 'list.cjs'), `process.on('exit', () => { require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')) })\n`)
    // (stderr a file: a character device there would make process.stderr, to ask if it is a terminal.)
    const piped = spawnSync('sh', ['-c', `"$@" 2>${JSON.stringify(join(work, 'status-err.txt'))} | cat`, 'sh', process.execPath, '--require', join(work, 'list.cjs'), CLI, '--dir', dir, 'status'], { encoding: 'utf8' })
    expect(piped.stdout).toMatch(/^chain /)
    expect(readFileSync(list, 'utf8').split('\n')).not.toContain('NativeModule stream')

    // The reader takes the first bytes and then reads no more (a pager left open, a stuck
    // consumer): 300 KB do not fit the pipe. A blocking write(2) then held the command in the
    // kernel, where neither Ctrl-C nor a second one (nor SIGTERM) reached it; later the stop waited
    // for the output to be written, so one Ctrl-C or one SIGTERM (`timeout`) never ended it.
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const status = join(work, `status-${sig}`)
      const errFile = join(work, `stderr-${sig}.txt`)
      const run = await stalledReader(work, ['--dir', dir, 'query', BIG], { name: sig, status, stderr: errFile })
      try {
        process.kill(run.pid, sig)
        await waitFor(() => existsSync(status) && readFileSync(status, 'utf8').trim() !== '', { timeout: 20_000 })
        expect(readFileSync(status, 'utf8').trim(), sig).toBe('130')
        if (sig === 'SIGINT') expect(readFileSync(errFile, 'utf8')).toContain('stopping cleanly')
      } finally {
        run.stop()
      }
    }
  })

  it('prove -o /dev/stdout into a reader that stopped reading: one Ctrl-C ends it (mend31)', async () => {
    // The proof went to descriptor 1 in a loop of 5 ms sleeps (Atomics.wait) until the reader took
    // every byte: the event loop never ran, so neither Ctrl-C nor SIGTERM was seen. It now goes
    // through the command's stdout and waits for the reader in the event loop, as an answer does.
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const work = tmpDir()
    const src = join(work, 'big.db')
    const db = new Database(src)
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
    db.prepare('INSERT INTO t (v) VALUES (?)').run('y'.repeat(1 << 20)) // a proof far larger than the pipe
    db.close()
    expect((await petalInProcess(['--dir', dir, 'signimportblock', src])).code).toBe(0)
    expect((await petal(['--dir', dir, 'checkpoint', '--sign'])).code).toBe(0)
    const status = join(work, 'status')
    const errFile = join(work, 'stderr.txt')
    const run = await stalledReader(work, ['--dir', dir, 'prove', '--height', '1', '--table', 't', '--rowid', '1', '-o', '/dev/stdout'], { status, stderr: errFile })
    try {
      process.kill(run.pid, 'SIGINT')
      await waitFor(() => existsSync(status) && readFileSync(status, 'utf8').trim() !== '', { timeout: 20_000, what: 'the exit status' })
      expect(readFileSync(status, 'utf8').trim()).toBe('130')
      expect(readFileSync(errFile, 'utf8')).toContain('stopping cleanly')
    } finally {
      run.stop()
    }
  })

  it('a SIGTERM that comes while a command closes what it opened, after its answer, ends it too when the reader stopped reading', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const work = tmpDir()
    // ~72 KB of answer: the pipe takes 64 KiB and Node's stream the rest, less than its
    // high-water mark, so the query does not wait for it and returns 0. The signal comes while the
    // command stops its sandbox (held here for 3 s by a preload that delays that kill, and says
    // when it is there): a stop the command has nothing left to react to. It waited for the
    // output for ever (until a second signal).
    const closing = join(work, 'closing')
    const preload = `const { ChildProcess } = require('node:child_process'); const fs = require('node:fs'); const kill = ChildProcess.prototype.kill
      ChildProcess.prototype.kill = function (sig) {
        if (sig !== 'SIGKILL' || fs.existsSync(${JSON.stringify(closing)})) return kill.call(this, sig)
        fs.writeFileSync(${JSON.stringify(closing)}, '')
        setTimeout(() => { kill.call(this, sig) }, 3000)
        return true
      }\n`
    const status = join(work, 'status')
    const run = await stalledReader(work, ['--dir', dir, 'query', 'SELECT hex(zeroblob(36000)) AS x'], { status, preload })
    try {
      await waitFor(() => existsSync(closing), { what: 'the sandbox\'s kill' })
      process.kill(run.pid, 'SIGTERM')
      await waitFor(() => existsSync(status) && readFileSync(status, 'utf8').trim() !== '', { timeout: 20_000, what: 'the exit status' })
      expect(readFileSync(status, 'utf8').trim()).toBe('130')
    } finally {
      run.stop()
    }
  })

  it('a reader that stops reading holds a long answer back: the answer does not pile up in memory', { timeout: 60_000 }, async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const work = tmpDir()
    // ~1 GB of answer; the reader takes 10 bytes and stops. Writes after the pipe filled went to
    // Node's stream, which held all of them: the process grew by the answer's size (≥ 256 MiB
    // within seconds here), where a stalled reader should stall the query.
    const sql = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5000000) SELECT x, printf('%.200c', 'a') AS y FROM c`
    const run = await stalledReader(work, ['--dir', dir, 'query', sql])
    try {
      const peak = await peakRssMiB(run.pid, 256, 40)
      expect(peak).toBeGreaterThan(0)
      expect(peak).toBeLessThan(256)
    } finally {
      run.stop()
    }
  })

  it('a reader that stops reading holds an export back too: the table does not pile up in memory', { timeout: 120_000 }, async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const work = tmpDir()
    // Two blocks of 200,000 rows of ~300 bytes: ~120 MB of CSV, of which the reader takes 10 bytes.
    // Made by SQLite, not imported from CSV: the import's CSV parse cost twice the CPU (3.9 against
    // 1.9 s a block, health53) and is not what this tests.
    for (let b = 0; b < 2; b++) {
      const file = join(work, `rows${b}.db`)
      const db = new Database(file)
      db.exec(`CREATE TABLE t (x INTEGER, y TEXT); WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c LIMIT 200000) INSERT INTO t SELECT ${b * 200_000} + i, printf('%.290c', 'a') FROM c`)
      db.close()
      expect((await petalInProcess(['--dir', dir, 'signimportblock', file])).code).toBe(0)
    }
    const run = await stalledReader(work, ['--dir', dir, 'export', 't'], { timeout: 30_000 })
    try {
      // Writes after the pipe filled went to Node's stream, which held the rest of the table
      // (~200 MiB within seconds here); held back, the export stays near its own ~55 MiB.
      const peak = await peakRssMiB(run.pid, 128, 60)
      expect(peak).toBeGreaterThan(0)
      expect(peak).toBeLessThan(128)
    } finally {
      run.stop()
    }
  })
})
