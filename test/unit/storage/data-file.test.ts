// openDataFileSync: checkDataFile and open in one (plain verify's block files and seals): the same
// refusals without an lstat first, and never waiting on a named pipe.
import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { NodeLock, openDataFileSync, openNoFollowSync, readSeal, readWholeSync, regularSizeSync } from '../../../src/storage/index.js'
import { isNotFound, isPetalError } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'

const failure = (f: () => unknown): unknown => { try { f() } catch (err) { return err } return undefined }
const coded = (f: () => unknown): { code?: string, message?: string } => {
  const err = failure(f)
  return isPetalError(err) ? { code: err.code, message: err.message } : { message: String(err) }
}

describe('openDataFileSync', () => {
  it('opens a regular file and refuses a symbolic link, a named pipe and a directory as checkDataFile does', () => {
    const dir = tmpDir()
    const file = join(dir, 'block_00000001.db')
    writeFileSync(file, 'twelve bytes')
    const { fd, size } = openDataFileSync(file, 'block file')
    closeSync(fd)
    expect(size).toBe(12)
    const link = join(dir, 'link.db')
    symlinkSync(file, link)
    expect(coded(() => openDataFileSync(link, 'block file'))).toEqual({ code: 'DATA_FILE_NOT_REGULAR', message: `block file ${link} is a symbolic link, not a regular file` })
    // Opened without waiting for a writer (a blocking open would hang this test).
    const fifo = join(dir, 'fifo.db')
    execFileSync('mkfifo', [fifo])
    expect(coded(() => openDataFileSync(fifo, 'block file'))).toEqual({ code: 'DATA_FILE_NOT_REGULAR', message: `block file ${fifo} is a named pipe (FIFO), not a regular file` })
    const sub = join(dir, 'dir.db')
    mkdirSync(sub)
    expect(coded(() => openDataFileSync(sub, 'block file'))).toEqual({ code: 'DATA_FILE_NOT_REGULAR', message: `block file ${sub} is a directory, not a regular file` })
    expect(isNotFound(failure(() => openDataFileSync(join(dir, 'absent.db'), 'block file')))).toBe(true)
  })

  it('readSeal: the seal trimmed; a missing seal is BLOCK_FILE_MISSING, a named pipe DATA_FILE_NOT_REGULAR', () => {
    const dir = tmpDir()
    const block = join(dir, 'block_00000001.db')
    writeFileSync(join(dir, 'block_00000001.sig'), '3045abcd\n')
    expect(readSeal(block)).toBe('3045abcd')
    const other = join(dir, 'block_00000002.db')
    expect(coded(() => readSeal(other)).code).toBe('BLOCK_FILE_MISSING')
    execFileSync('mkfifo', [join(dir, 'block_00000002.sig')])
    expect(coded(() => readSeal(other)).code).toBe('DATA_FILE_NOT_REGULAR')
  })

  it('readSeal without fstat: a seal of any length as before; empty, a directory or a named pipe as before', () => {
    const dir = tmpDir()
    const block = join(dir, 'block_00000001.db')
    const sig = join(dir, 'block_00000001.sig')
    for (const text of ['', '\n', '3045', 'ab'.repeat(255), 'ab'.repeat(255) + 'c', 'ab'.repeat(256), ` ${'cd'.repeat(3000)}\n\n`]) {
      writeFileSync(sig, text)
      expect(readSeal(block)).toBe(text.trim())
    }
    const other = join(dir, 'block_00000002.db')
    mkdirSync(join(dir, 'block_00000002.sig'))
    expect(coded(() => readSeal(other))).toEqual({ code: 'DATA_FILE_NOT_REGULAR', message: `seal file ${join(dir, 'block_00000002.sig')} is a directory, not a regular file` })
  })
})

describe('readWholeSync', () => {
  const read = (path: string, size: number): number => {
    const fd = openNoFollowSync(path, 'block file')
    try {
      return readWholeSync(fd, Buffer.alloc(size))
    } finally {
      closeSync(fd)
    }
  }
  it('reads a shorter file whole, says when it filled the buffer, and fails on a directory or a named pipe, which fstat then refuses', () => {
    const dir = tmpDir()
    const file = join(dir, 'f.db')
    for (const n of [0, 1, 99, 100, 101, 5000]) {
      writeFileSync(file, Buffer.alloc(n, 7))
      expect(read(file, 100), String(n)).toBe(Math.min(n, 100))
    }
    const sub = join(dir, 'dir.db')
    mkdirSync(sub)
    expect(read(sub, 100)).toBe(-1)
    const fifo = join(dir, 'fifo.db')
    execFileSync('mkfifo', [fifo])
    expect(read(fifo, 100)).toBe(-1)
    const fd = openNoFollowSync(fifo, 'block file')
    try {
      expect(coded(() => regularSizeSync(fd, fifo, 'block file'))).toEqual({ code: 'DATA_FILE_NOT_REGULAR', message: `block file ${fifo} is a named pipe (FIFO), not a regular file` })
    } finally {
      closeSync(fd)
    }
    // A character device that never ends fills the buffer (so its caller goes the fstat way).
    const zero = openSync('/dev/zero', 'r')
    try {
      expect(readWholeSync(zero, Buffer.alloc(100))).toBe(100)
    } finally {
      closeSync(zero)
    }
  })
})

describe('a lock file that is not a regular file', () => {
  // Its hint said to "put the real file there" (every data file's): a lock holds nothing, and the
  // only true step is to take away what is in its place (session 55). Each hint's command, run.
  it('says to remove a link (its target left), to move a directory aside; run, the lock is held', () => {
    const dir = tmpDir()
    const target = join(dir, 'elsewhere')
    writeFileSync(target, 'kept\n')
    symlinkSync(target, join(dir, 'seal.lock'))
    mkdirSync(join(dir, 'node.lock'))
    writeFileSync(join(dir, 'node.lock', 'x'), '')
    for (const [file, command] of [['seal.lock', `rm ${join(dir, 'seal.lock')}`], ['node.lock', `mv ${join(dir, 'node.lock')} ${join(dir, 'node.lock.moved')}`]]) {
      const err = failure(() => NodeLock.tryAcquire(dir, file))
      expect(isPetalError(err) && err.code).toBe('DATA_FILE_NOT_REGULAR')
      const run = isPetalError(err) ? /`([^`]+)`/.exec(err.hint ?? '')?.[1] : undefined
      expect(run).toBe(command)
      execFileSync('sh', ['-c', run as string])
      const lock = NodeLock.tryAcquire(dir, file)
      expect(lock).toBeDefined()
      lock?.release()
    }
    expect(execFileSync('cat', [target], { encoding: 'utf8' })).toBe('kept\n')
  })
})
