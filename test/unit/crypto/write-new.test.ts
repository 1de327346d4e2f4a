// The addon's writeNew (src/crypto/native/place-files.c), which a range receive uses for each small
// block where the addon is loaded (network/protocols/block.ts): one open (O_EXCL), writev and
// close in place of util/fs.ts's writeNewFileSync. It must never write over a file that is there,
// never write a file with other bytes than asked, and leave nothing behind when it declines (-1),
// so that the node:fs way that follows creates the file, or fails, as it always did.
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeNewFileNative } from '../../../src/crypto/index.js'
import { loadNativeOpenssl, nativeOpenssl, resetNativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { writeNewFileSync } from '../../../src/util/fs.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'
import { openFds, path4094, restoreNativeOpensslAfterEach } from '../../helpers/native-openssl.js'
import { tmpDir } from '../../helpers/tmp.js'

restoreNativeOpensslAfterEach()

function lib (): NonNullable<NonNullable<ReturnType<typeof loadNativeOpenssl>['lib']>['writeNew']> {
  const w = loadNativeOpenssl().lib?.writeNew
  if (w === undefined) throw new Error('the addon did not load')
  return w
}

describe.skipIf(!nativeOpensslBuilt())('writeNew', () => {
  it('creates the file with the parts\' bytes, mode 0644 less the umask, as writeNewFileSync', () => {
    const writeNew = lib()
    const dir = tmpDir()
    const parts = [Buffer.from('first part '), new Uint8Array([0, 1, 2, 255]), new Uint8Array(0), Buffer.alloc(70_000, 7)]
    const size = parts.reduce((n, p) => n + p.byteLength, 0)
    const fds = openFds()
    expect(writeNew(join(dir, 'a'), parts, size)).toBe(0)
    writeNewFileSync(join(dir, 'b'), parts, size)
    expect(openFds()).toBe(fds)
    expect(readFileSync(join(dir, 'a'))).toEqual(readFileSync(join(dir, 'b')))
    expect(readFileSync(join(dir, 'a')).length).toBe(size)
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(statSync(join(dir, 'b')).mode & 0o777)
    // A part that is a view into a larger buffer: only its own bytes.
    const big = Buffer.from('xxHELLOxx')
    expect(writeNew(join(dir, 'c'), [big.subarray(2, 7)], 5)).toBe(0)
    expect(readFileSync(join(dir, 'c'), 'utf8')).toBe('HELLO')
  })

  it('declines (-1) what it cannot write, leaving what was there and creating nothing', () => {
    const writeNew = lib()
    const dir = tmpDir()
    const taken = join(dir, 'taken')
    writeFileSync(taken, 'kept')
    const fds = openFds()
    // Something at the path: never written over (O_EXCL); the node:fs way then fails with EEXIST.
    expect(writeNew(taken, [Buffer.from('new')], 3)).toBe(-1)
    expect(readFileSync(taken, 'utf8')).toBe('kept')
    expect(() => { writeNewFileSync(taken, [Buffer.from('new')], 3) }).toThrow(expect.objectContaining({ code: 'EEXIST' }))
    const cases: Array<[string, unknown, number]> = [
      ['size not the parts\' sum', [Buffer.from('ab')], 3],
      ['size not the parts\' sum (larger parts)', [Buffer.from('abcd')], 3],
      ['not an array', Buffer.from('ab'), 2],
      ['a part that is not a Uint8Array (its length counts elements, not bytes)', [new Uint16Array(1)], 1],
      ['a part that is a string', ['ab'], 2],
      ['more than 16 parts', Array.from({ length: 17 }, () => Buffer.from('a')), 17],
      ['a negative size', [], -1]
    ]
    for (const [why, parts, size] of cases) {
      const p = join(dir, why.replace(/\W+/g, '-'))
      expect(writeNew(p, parts as Uint8Array[], size), why).toBe(-1)
      expect(existsSync(p), why).toBe(false)
    }
    expect(writeNew(join(dir, 'none', 'f'), [Buffer.from('a')], 1)).toBe(-1)
    expect(writeNew(join(dir, 'nul\0f'), [Buffer.from('a')], 1)).toBe(-1)
    expect(existsSync(join(dir, 'nul'))).toBe(false)
    // A path the addon's buffer would cut before its last character (another, shorter path).
    const short = path4094()
    expect(writeNew(short + 'é', [Buffer.from('a')], 1)).toBe(-1)
    expect(existsSync(short)).toBe(false)
    expect(openFds()).toBe(fds)
  })

  it('removes the file it created when the write fails part-way (a file size limit), so node:fs gives its own error', () => {
    lib()
    const dir = tmpDir()
    // Node ignores SIGXFSZ: past the limit writev writes what fits, then fails with EFBIG.
    const script = `
      const { loadNativeOpenssl } = await import(${JSON.stringify(new URL('../../../dist/crypto/openssl-native.js', import.meta.url).href)})
      const { existsSync } = await import('node:fs')
      const w = loadNativeOpenssl().lib.writeNew
      const p = ${JSON.stringify(join(dir, 'big'))}
      const r = w(p, [Buffer.alloc(3000, 1), Buffer.alloc(3000, 2)], 6000)
      process.stdout.write(JSON.stringify({ r, left: existsSync(p) }))`
    const out = spawnSync('prlimit', ['--fsize=1000', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' })
    if (out.error !== undefined) throw out.error
    expect(out.stderr).toBe('')
    expect(JSON.parse(out.stdout)).toEqual({ r: -1, left: false })
  })

  it('is taken only once this thread has loaded the addon, and never with PETAL_NATIVE_SHA256=0', () => {
    const dir = tmpDir()
    resetNativeOpenssl()
    expect(writeNewFileNative(join(dir, 'a'), [Buffer.from('a')], 1)).toBe(-1)
    expect(existsSync(join(dir, 'a'))).toBe(false)
    nativeOpenssl()
    expect(writeNewFileNative(join(dir, 'a'), [Buffer.from('a')], 1)).toBe(0)
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('a')
    process.env.PETAL_NATIVE_SHA256 = '0'
    resetNativeOpenssl()
    nativeOpenssl()
    expect(writeNewFileNative(join(dir, 'b'), [Buffer.from('b')], 1)).toBe(-1)
    expect(existsSync(join(dir, 'b'))).toBe(false)
  })
})
