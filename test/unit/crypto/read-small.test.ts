// The addon's readSmall (src/crypto/native/read-small.c, through readSmallFileNative), which plain
// verify's workers use for a block file and its seal in place of node:fs's open, reads and close:
// a small regular file read whole, exactly its bytes; anything else (a link, a pipe, a directory,
// a device, an empty file, one that does not fit, a missing one, a path node:fs would refuse or
// that is too long to pass whole) -1 with nothing read or left open, so that the caller's node:fs
// way decides as before. test/unit/chain/verify-files.test.ts runs plain verify on damaged files
// both ways.
import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { readSmallFileNative } from '../../../src/crypto/index.js'
import { loadNativeOpenssl, nativeOpenssl, resetNativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'
import { openFds, path4094, restoreNativeOpensslAfterEach } from '../../helpers/native-openssl.js'
import { tmpDir } from '../../helpers/tmp.js'

restoreNativeOpensslAfterEach()

describe.skipIf(!nativeOpensslBuilt())('readSmall', () => {
  it('reads a regular file of 1 to buf.length - 1 bytes whole, and takes nothing else', () => {
    const lib = loadNativeOpenssl().lib
    if (lib === undefined) throw new Error('the addon did not load')
    const dir = tmpDir()
    const file = (name: string, bytes: Buffer): string => { const p = join(dir, name); writeFileSync(p, bytes); return p }
    const CAP = 511
    const buf = Buffer.alloc(CAP)
    const fds = openFds()
    // Whole: each size from 1 to CAP - 1 around the edges, exactly its bytes.
    for (const n of [1, 2, 146, 147, 509, 510]) {
      const bytes = randomBytes(n)
      buf.fill(0xee)
      expect(lib.readSmall(file(`f${n}`, bytes), buf), `${n} bytes`).toBe(n)
      expect(buf.subarray(0, n).equals(bytes), `${n} bytes`).toBe(true)
      expect(buf[n], `${n} bytes: nothing past the file`).toBe(0xee)
    }
    const target = file('target', randomBytes(100))
    symlinkSync(target, join(dir, 'link'))
    mkdirSync(join(dir, 'dir'))
    execFileSync('mkfifo', [join(dir, 'fifo')])
    const refused: Array<[string, string]> = [
      ['an empty file', file('empty', Buffer.alloc(0))],
      ['a file of buf.length bytes', file('full', randomBytes(CAP))],
      ['a file of buf.length + 1 bytes', file('over', randomBytes(CAP + 1))],
      ['a symbolic link to a small file', join(dir, 'link')],
      ['a directory', join(dir, 'dir')],
      // Opened without waiting for a writer (O_NONBLOCK): this would block for ever otherwise.
      ['a named pipe', join(dir, 'fifo')],
      ['a character device', '/dev/null'],
      ['a missing file', join(dir, 'missing')],
      ['a path with a NUL (node:fs refuses it; cut there it would name the small file)', `${target}\0x`],
      ['a path too long to pass whole', join(dir, 'a'.repeat(5000))],
      ['an empty path', '']
    ]
    for (const [what, path] of refused) {
      buf.fill(0xee)
      expect(lib.readSmall(path, buf), what).toBe(-1)
    }
    // A buffer of 0 bytes takes nothing; a wrong argument throws as the addon's other calls do.
    expect(lib.readSmall(target, Buffer.alloc(0))).toBe(-1)
    expect(() => lib.readSmall(target, 'x' as unknown as Uint8Array)).toThrow(TypeError)
    expect(() => lib.readSmall(42 as unknown as string, buf)).toThrow(TypeError)
    // Nothing left open, whichever way each call went.
    expect(openFds()).toBe(fds)
    // The same bytes as node:fs reads.
    expect(lib.readSmall(target, buf)).toBe(100)
    expect(buf.subarray(0, 100).equals(readFileSync(target))).toBe(true)
  })

  it('never opens a path that a multi-byte character at its 4,095-byte limit would cut short (review30)', () => {
    const lib = loadNativeOpenssl().lib
    if (lib === undefined) throw new Error('the addon did not load')
    // A file whose path is 4,094 bytes (the longest Linux opens is 4,095), asked for with one
    // character more: '€' is 3 bytes, so the copy into the addon's 4,096-byte buffer (room for
    // 4,095 and the NUL) stops before it, at exactly the existing file's path. node:fs refuses
    // the whole path (ENAMETOOLONG); readSmall read the shorter file's bytes instead.
    const short = path4094()
    expect(Buffer.byteLength(short)).toBe(4094)
    writeFileSync(short, 'not this file\n')
    const buf = Buffer.alloc(64)
    for (const extra of ['€', 'é', '😀', 'x€', 'xé']) {
      const asked = short + extra
      expect(() => readFileSync(asked), extra).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }))
      expect(lib.readSmall(asked, buf), `${extra}: ${Buffer.byteLength(asked)} bytes`).toBe(-1)
    }
    // A path of 4,092 bytes or more may be a cut one: left to node:fs, which reads it; 4,091 is read here.
    expect(lib.readSmall(short, buf)).toBe(-1)
    expect(readFileSync(short, 'utf8')).toBe('not this file\n')
    const shorter = short.slice(0, -3)
    writeFileSync(shorter, 'this one\n')
    expect(lib.readSmall(shorter, buf)).toBe(9)
  })

  it('is taken only once this thread has loaded the addon, and never with PETAL_NATIVE_SHA256=0', () => {
    const p = join(tmpDir(), 'f')
    writeFileSync(p, 'seal\n')
    const buf = Buffer.alloc(64)
    resetNativeOpenssl()
    // Not loaded for this: a process that only reads a seal does not pay the addon's load.
    expect(readSmallFileNative(p, buf)).toBe(-1)
    nativeOpenssl()
    expect(readSmallFileNative(p, buf)).toBe(5)
    expect(buf.toString('utf8', 0, 5)).toBe('seal\n')
    process.env.PETAL_NATIVE_SHA256 = '0'
    resetNativeOpenssl()
    nativeOpenssl()
    expect(readSmallFileNative(p, buf)).toBe(-1)
  })
})
