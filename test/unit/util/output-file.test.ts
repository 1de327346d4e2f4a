import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { writeOutputFile } from '../../../src/util/index.js'

// A rename onto a path that is not a regular file replaces the node itself: as root, `prove -o
// /dev/null` turned /dev/null into a regular file. A FIFO stands in for the device here (a test
// that got it wrong must not break the machine it runs on).
describe('writeOutputFile', () => {
  let dir: string
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'petal-out-')) })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  it('writes a new file and replaces a regular one', () => {
    const f = join(dir, 'proof.json')
    writeOutputFile(f, 'one\n')
    expect(readFileSync(f, 'utf8')).toBe('one\n')
    writeOutputFile(f, 'two\n')
    expect(readFileSync(f, 'utf8')).toBe('two\n')
  })

  it('keeps the permissions of the file it replaces, directly or through a symlink (review30)', () => {
    // A proof (query --prove holds the rows' values) written over a file the user had made
    // private came back world-readable (0644): the replacement was made with the default mode.
    const f = join(dir, 'private.json')
    writeFileSync(f, 'old\n')
    chmodSync(f, 0o600)
    writeOutputFile(f, 'new\n')
    expect(readFileSync(f, 'utf8')).toBe('new\n')
    expect((statSync(f).mode & 0o777).toString(8)).toBe('600')
    const target = join(dir, 'target.json')
    writeFileSync(target, 'old\n')
    chmodSync(target, 0o640)
    symlinkSync('target.json', join(dir, 'link.json'))
    writeOutputFile(join(dir, 'link.json'), 'new\n')
    expect(readFileSync(target, 'utf8')).toBe('new\n')
    expect((statSync(target).mode & 0o777).toString(8)).toBe('640')
    // A new file: the usual mode (0644 less the umask).
    writeOutputFile(join(dir, 'new.json'), 'x')
    expect(statSync(join(dir, 'new.json')).mode & 0o777).toBe(0o644 & ~process.umask())
  })

  it.skipIf(spawnSync('mkfifo', ['--version']).status !== 0)('writes through a FIFO, which stays a FIFO', async () => {
    const fifo = join(dir, 'pipe')
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] })
    const chunks: Buffer[] = []
    reader.stdout.on('data', (c: Buffer) => chunks.push(c))
    const closed = new Promise<number | null>(resolve => reader.on('close', resolve))
    try {
      writeOutputFile(fifo, 'through the pipe\n')
      expect(await closed).toBe(0)
    } finally {
      reader.kill() // a rename over the FIFO would leave cat waiting for a writer forever
    }
    expect(Buffer.concat(chunks).toString()).toBe('through the pipe\n')
    expect(lstatSync(fifo).isFIFO()).toBe(true)
  })

  it('replaces the file a symlink points at, not the link', () => {
    const target = join(dir, 'real.json')
    writeFileSync(target, 'old\n')
    const link = join(dir, 'link.json')
    symlinkSync('real.json', link)
    writeOutputFile(link, 'new\n')
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readlinkSync(link)).toBe('real.json')
    expect(readFileSync(target, 'utf8')).toBe('new\n')
  })

  it('creates the target of a dangling symlink, as `>` does', () => {
    const link = join(dir, 'link.json')
    symlinkSync('made.json', link)
    writeOutputFile(link, 'made\n')
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readFileSync(join(dir, 'made.json'), 'utf8')).toBe('made\n')
  })

  it('refuses a directory and leaves it as it was', () => {
    const d = join(dir, 'out')
    mkdirSync(d)
    expect(() => writeOutputFile(d, 'x')).toThrow(/EISDIR/)
    expect(lstatSync(d).isDirectory()).toBe(true)
  })
})
