import { spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI, petal, petalInProcess } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

// A command that is done, with its output written and nothing else pending, leaves at once
// (start.ts, `finished`): Node's usual end would first run V8's scheduled tasks (a scavenge) and
// free the heap. 'beforeExit' is emitted only on the usual way out, so a preload that records it
// tells the two apart.
describe('the end of a command', () => {
  function preload (work: string, extra = ''): { file: string, marks: string } {
    const marks = join(work, 'marks.txt')
    const file = join(work, 'marks.cjs')
    writeFileSync(file, `const fs = require('node:fs'); const mark = m => fs.appendFileSync(${JSON.stringify(marks)}, m + '\\n')
process.on('beforeExit', () => mark('beforeExit')); process.on('exit', code => mark('exit ' + code)); ${extra}\n`)
    return { file, marks }
  }
  const run = (file: string, args: string[], stdout: 'pipe' | number): { code: number | null, stdout: string } => {
    const r = spawnSync(process.execPath, ['--require', file, CLI, ...args], { stdio: ['ignore', stdout, 'pipe'], encoding: 'utf8' })
    return { code: r.status, stdout: r.stdout ?? '' }
  }

  it('leaves as soon as the command is done, its output whole, to a file and to a pipe, with its exit status', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const expected = (await petal(['--dir', dir, '--json', 'status'])).stdout
    const work = tmpDir()
    const { file, marks } = preload(work)
    const out = join(work, 'out.json')
    const fd = openSync(out, 'w')
    try {
      expect(run(file, ['--dir', dir, '--json', 'status'], fd).code).toBe(0)
    } finally {
      closeSync(fd)
    }
    expect(readFileSync(out, 'utf8')).toBe(expected)
    expect(readFileSync(marks, 'utf8')).toBe('exit 0\n')
    rmSync(marks)
    const piped = run(file, ['--dir', dir, '--json', 'status'], 'pipe')
    expect(piped.code).toBe(0)
    expect(piped.stdout).toBe(expected)
    expect(readFileSync(marks, 'utf8')).toBe('exit 0\n')
    rmSync(marks)
    // A failure too: its message is written, its status kept.
    const r = spawnSync(process.execPath, ['--require', file, CLI, '--dir', join(work, 'none'), 'status'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
    expect(r.status).toBe(4)
    expect(r.stderr).toMatch(/\[[A-Z_]+\]\n {2}hint: /)
    expect(readFileSync(marks, 'utf8')).toBe('exit 4\n')
  })

  it('ends with 141 when the reader of its output went away before the last write (EPIPE), not with the command\'s status', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const { file, marks } = preload(tmpDir())
    for (const args of [['status'], ['--json', 'status'], ['blocks']]) {
      // The reading end is closed before the command writes (a reader that is gone: `| true`).
      const child = spawn(process.execPath, ['--require', file, CLI, '--dir', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      child.stdout.destroy()
      let stderr = ''
      child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
      const code = await new Promise<number | null>(resolve => { child.once('close', resolve) })
      expect(code, args.join(' ') + stderr).toBe(141)
      expect(stderr).not.toContain('EPIPE')
      expect(readFileSync(marks, 'utf8')).toBe('exit 141\n')
      rmSync(marks)
    }
  })

  it('keeps its status when the reader of its messages went away (stderr closed: EPIPE)', async () => {
    const { file, marks } = preload(tmpDir())
    const child = spawn(process.execPath, ['--require', file, CLI, '--dir', join(tmpDir(), 'none'), 'status'], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stderr.destroy()
    child.stdout.resume()
    const code = await new Promise<number | null>(resolve => { child.once('close', resolve) })
    expect(code).toBe(4)
    // A stream whose write failed ends the usual way (its error is handled on a later tick).
    expect(readFileSync(marks, 'utf8')).toBe('beforeExit\nexit 4\n')
  })

  // In a terminal, stderr exists before the command runs (stderrIsTTY makes it to ask), and its
  // handle is ours as much as stdout's: the early exit applies there too. `script` gives the
  // command a terminal (util-linux; not on every system).
  it.skipIf(!existsSync('/usr/bin/script'))('leaves as soon as the command is done in a terminal too', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const { file, marks } = preload(tmpDir())
    const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`
    const command = [process.execPath, '--require', file, CLI, '--dir', dir, 'status'].map(quote).join(' ')
    const r = spawnSync('/usr/bin/script', ['-q', '-e', '-c', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^chain /)
    expect(readFileSync(marks, 'utf8')).toBe('exit 0\n')
  })

  // stdout a pipe of the shell's (a FIFO), written with write(2) directly (src/cli/stdout.ts),
  // read by a reader that waits 0.5 s first, so that 300 KB fill the pipe (64 KiB) many times over.
  const BIG = 'SELECT hex(zeroblob(150000)) AS x'
  const shellPipe = (work: string, pre: string[], args: string[], reader: string): { code: string, stdout: string } => {
    const status = join(work, 'status')
    const r = spawnSync('sh', ['-c', `{ "$@"; echo $? > ${JSON.stringify(status)}; } | ${reader}`, 'sh', process.execPath, ...pre, CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 })
    expect(r.status, r.stderr).toBe(0)
    return { code: readFileSync(status, 'utf8').trim(), stdout: r.stdout }
  }

  it('writes all its output into a full pipe, blocking or not, and stops quietly when the reader goes away', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const expected = `${JSON.stringify({ x: '00'.repeat(150000) })}\n`
    const work = tmpDir()
    const slow = shellPipe(work, [], ['--dir', dir, 'query', BIG], '{ sleep 0.5; cat; }')
    expect(slow.code).toBe('0')
    expect(slow.stdout).toBe(expected)
    // The pipe made non-blocking (libuv does so where a Node process opens one, and the flag is
    // the pipe's, shared): a write that would block (EAGAIN) hands the rest to Node's stream,
    // which waits for the reader. Without that, the output stopped at 64 KiB and the command failed.
    const nonBlocking = join(work, 'non-blocking.cjs')
    writeFileSync(nonBlocking, "new (require('node:net').Socket)({ fd: 1, readable: false, writable: true })\n")
    const nb = shellPipe(work, ['--require', nonBlocking], ['--dir', dir, 'query', BIG], '{ sleep 0.5; cat; }')
    expect(nb.code).toBe('0')
    expect(nb.stdout).toBe(expected)
    // The reader leaves after 10 bytes: EPIPE ends the command with 141, as SIGPIPE would.
    const head = shellPipe(work, [], ['--dir', dir, 'query', BIG], 'head -c 10')
    expect(head.code).toBe('141')
    expect(head.stdout).toBe(expected.slice(0, 10))
  })

  it('ends the usual way while something else is still pending (a timer here)', async () => {
    const dir = join(tmpDir(), 'node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const { file, marks } = preload(tmpDir(), "setTimeout(() => mark('timer'), 300)")
    const r = run(file, ['--dir', dir, 'status'], 'pipe')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^chain /)
    expect(readFileSync(marks, 'utf8')).toBe('timer\nbeforeExit\nexit 0\n')
  })
})
