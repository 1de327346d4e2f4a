import { spawn, spawnSync } from 'node:child_process'
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
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
