// The addon's tmpForeign and makeEmpty (src/crypto/native/tmp-files.c), which a catch-up uses for
// the data directory's tmp/: cleanTmp's listing of the names that are not this process's own (each
// placement's write transaction runs it, with ~500-700 own files there), and TmpFilePool's empty
// files made ahead in one request to libuv's pool. Every case the addon does not take goes the
// node:fs way with the outcome it always had: cleanTmp and the pool are run both ways.
import { describe, expect, it } from 'vitest'
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { constants } from 'node:os'
import { makeEmptyNative, tmpForeignNative } from '../../../src/crypto/index.js'
import { nativeOpenssl, resetNativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { cleanTmp, DataDir, TmpFilePool } from '../../../src/storage/index.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'
import { restoreNativeOpensslAfterEach } from '../../helpers/native-openssl.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

restoreNativeOpensslAfterEach()

const umask = (): number => { const m = process.umask(); process.umask(m); return m }

describe.skipIf(!nativeOpensslBuilt())('tmpForeign and makeEmpty', () => {
  it('tmpForeign lists the names that do not start with the prefix, and gives an errno for a listing that fails', () => {
    const dir = tmpDir()
    for (const n of ['1-a.db', '1-b.db', '12-c.db', '2-d.db', 'x']) writeFileSync(join(dir, n), '')
    mkdirSync(join(dir, '1-sub'))
    const lib = nativeOpenssl()
    if (lib?.tmpForeign === undefined) throw new Error('the addon has no tmpForeign')
    expect((lib.tmpForeign(dir, '1-') as string[]).sort()).toEqual(['12-c.db', '2-d.db', 'x'])
    expect((lib.tmpForeign(dir, 'none-') as string[]).sort()).toEqual(readdirSync(dir).sort())
    expect(lib.tmpForeign(join(dir, 'missing'), '1-')).toBe(constants.errno.ENOENT)
    expect(lib.tmpForeign(join(dir, 'x'), '1-')).toBe(constants.errno.ENOTDIR)
    expect(lib.tmpForeign(dir, '')).toBe(-1)
    expect(lib.tmpForeign(dir, 'p'.repeat(64))).toBe(-1)
    expect(lib.tmpForeign('', '1-')).toBe(-1)
  })

  it('tmpForeign lists a directory larger than one read of the kernel (64 KiB): every foreign name once, none of its own', () => {
    const dir = tmpDir()
    const own = '7-n4026531836-'
    for (let i = 0; i < 1500; i++) writeFileSync(join(dir, `${own}${String(i).padStart(16, '0')}.db`), '')
    const foreign = Array.from({ length: 1500 }, (_, i) => `8-n4026531836-${String(i).padStart(16, '0')}.db`)
    for (const n of foreign) writeFileSync(join(dir, n), '')
    const lib = nativeOpenssl()
    if (lib?.tmpForeign === undefined) throw new Error('the addon has no tmpForeign')
    expect((lib.tmpForeign(dir, own) as string[]).sort()).toEqual(foreign.sort())
  })

  it('tmpForeign is taken only once this thread has loaded the addon, and never with PETAL_NATIVE_SHA256=0', () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'a'), '')
    resetNativeOpenssl()
    expect(tmpForeignNative(dir, '1-')).toBe(-1)
    nativeOpenssl()
    expect(tmpForeignNative(dir, '1-')).toEqual(['a'])
    process.env.PETAL_NATIVE_SHA256 = '0'
    resetNativeOpenssl()
    nativeOpenssl()
    expect(tmpForeignNative(dir, '1-')).toBe(-1)
  })

  it('makeEmpty makes each path empty and new (0644 less the umask), in order, up to the first that fails', async () => {
    const dir = tmpDir()
    const paths = ['a', 'b', 'c', 'd'].map(n => join(dir, n))
    writeFileSync(paths[2] as string, 'kept')
    const r = await makeEmptyNative(paths)
    expect(r).toEqual({ made: 2, errno: constants.errno.EEXIST })
    for (const p of paths.slice(0, 2)) {
      expect(statSync(p).size).toBe(0)
      expect(statSync(p).mode & 0o777).toBe(0o644 & ~umask())
    }
    expect(statSync(paths[2] as string).size).toBe(4) // a file there is kept
    expect(existsSync(paths[3] as string)).toBe(false) // after the failure, nothing made
    expect(await makeEmptyNative([join(dir, 'e')])).toEqual({ made: 1, errno: 0 })
    expect(await makeEmptyNative([join(dir, 'missing', 'f')])).toEqual({ made: 0, errno: constants.errno.ENOENT })
  })

  it('makeEmpty declines what it does not take, and queues nothing then', () => {
    const makeEmpty = nativeOpenssl()?.makeEmpty
    if (makeEmpty === undefined) throw new Error('the addon has no makeEmpty')
    const lib = { makeEmpty }
    const dir = tmpDir()
    const never = (): void => { throw new Error('called back') }
    expect(lib.makeEmpty([], never)).toBe(-1)
    expect(lib.makeEmpty(Array.from({ length: 65 }, (_, i) => join(dir, String(i))), never)).toBe(-1)
    expect(lib.makeEmpty([join(dir, 'a'), 7 as unknown as string], never)).toBe(-1)
    expect(lib.makeEmpty('a' as unknown as string[], never)).toBe(-1)
    expect(lib.makeEmpty([join(dir, 'a\u0000b')], never)).toBe(-1)
    expect(() => lib.makeEmpty([join(dir, 'a')], 'no' as unknown as () => void)).toThrow(TypeError)
    expect(readdirSync(dir)).toEqual([])
  })

  for (const way of ['the addon', 'node:fs'] as const) {
    it(`cleanTmp through ${way}: removes a gone process's files, keeps this one's and a live one's`, () => {
      if (way === 'node:fs') process.env.PETAL_NATIVE_SHA256 = '0'
      resetNativeOpenssl()
      nativeOpenssl()
      const dir = new DataDir(tmpDir())
      expect(cleanTmp(dir)).toBe(0) // no tmp/ yet
      mkdirSync(dir.tmpDir)
      const gone = 2 ** 22 + 7 // above pid_max's default: no such process
      const names = [`${process.pid}-own.db`, `${process.ppid}-live.db`, `${gone}-a.db`, `${gone}-a.sig`, 'junk']
      for (const n of names) writeFileSync(join(dir.tmpDir, n), '')
      expect(cleanTmp(dir)).toBe(3)
      expect(readdirSync(dir.tmpDir).sort()).toEqual([`${process.pid}-own.db`, `${process.ppid}-live.db`].sort())
    })

    it(`TmpFilePool through ${way}: keeps the files asked for, each handed out once, the rest removed at close`, async () => {
      if (way === 'node:fs') process.env.PETAL_NATIVE_SHA256 = '0'
      resetNativeOpenssl()
      nativeOpenssl()
      const dir = new DataDir(tmpDir())
      const pool = new TmpFilePool(dir)
      pool.keep(20) // more than one request's worth
      await waitFor(() => pool.size === 20)
      const taken = Array.from({ length: 25 }, () => pool.take()).filter((p): p is string => p !== undefined)
      expect(new Set(taken).size).toBe(taken.length)
      for (const p of taken) expect(statSync(p).size).toBe(0)
      await pool.close()
      expect(readdirSync(dir.tmpDir).sort()).toEqual(taken.map(p => p.slice(dir.tmpDir.length + 1)).sort())
    })
  }
})
