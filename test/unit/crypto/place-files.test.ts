// The addon's renameNoReplace and writeSmall (src/crypto/native/place-files.c), which a group's
// placement uses where the addon is loaded: renameBlock's two moves a block (one renameat2 with
// RENAME_NOREPLACE in place of an existsSync and a renameSync) and prepareGroup's `.sig` files.
// A move must never replace what is at its destination (a journal's replay and undo rely on it),
// and every case the addon does not take (-1) goes the node:fs way with the outcome it always had:
// renameBlock is run both ways on the same cases.
import { describe, expect, it } from 'vitest'
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { renameNoReplaceNative, writeSmallFileNative } from '../../../src/crypto/index.js'
import { loadNativeOpenssl, nativeOpenssl, resetNativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { renameBlock } from '../../../src/storage/block-files.js'
import { prepareGroup } from '../../../src/storage/group-flush.js'
import { setSyncfsMode } from '../../../src/storage/syncfs.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'
import { openFds, path4094, restoreNativeOpensslAfterEach } from '../../helpers/native-openssl.js'
import { tmpDir } from '../../helpers/tmp.js'

restoreNativeOpensslAfterEach()

describe.skipIf(!nativeOpensslBuilt())('renameNoReplace and writeSmall', () => {
  it('renameNoReplace moves a file only when nothing is at the destination', () => {
    const lib = loadNativeOpenssl().lib
    if (lib?.renameNoReplace === undefined) throw new Error('the addon did not load')
    const dir = tmpDir()
    const a = join(dir, 'a'); const b = join(dir, 'b'); const c = join(dir, 'c')
    writeFileSync(a, 'A'); writeFileSync(c, 'C')
    expect(lib.renameNoReplace(a, b)).toBe(0)
    expect(existsSync(a)).toBe(false)
    expect(readFileSync(b, 'utf8')).toBe('A')
    // Something at the destination: nothing moves, both stay as they were.
    expect(lib.renameNoReplace(c, b)).toBe(1)
    expect(readFileSync(b, 'utf8')).toBe('A')
    expect(readFileSync(c, 'utf8')).toBe('C')
    mkdirSync(join(dir, 'd'))
    expect(lib.renameNoReplace(c, join(dir, 'd'))).toBe(1)
    expect(readFileSync(c, 'utf8')).toBe('C')
    // Nothing at the source, or no directory for the destination: nothing moves.
    expect(lib.renameNoReplace(a, join(dir, 'e'))).toBe(2)
    expect(lib.renameNoReplace(c, join(dir, 'none', 'c'))).toBe(2)
    expect(readFileSync(c, 'utf8')).toBe('C')
    // Paths it does not pass whole: the caller's node:fs way.
    expect(lib.renameNoReplace(`${c}\0x`, join(dir, 'f'))).toBe(-1)
    expect(lib.renameNoReplace(c, join(dir, 'a'.repeat(5000)))).toBe(-1)
    expect(lib.renameNoReplace('', join(dir, 'f'))).toBe(-1)
    expect(lib.renameNoReplace(42 as unknown as string, join(dir, 'f'))).toBe(-1)
    expect(readFileSync(c, 'utf8')).toBe('C')
  })

  it('writeSmall writes the text whole, over a longer file too, and declines what it cannot write', () => {
    const lib = loadNativeOpenssl().lib
    if (lib?.writeSmall === undefined) throw new Error('the addon did not load')
    const dir = tmpDir()
    const p = join(dir, 'x.sig')
    const fds = openFds()
    writeFileSync(p, 'z'.repeat(300))
    const seal = '30'.repeat(72) + '\n'
    expect(lib.writeSmall(p, seal)).toBe(0)
    expect(readFileSync(p, 'utf8')).toBe(seal)
    writeFileSync(join(dir, 'ref'), seal)
    expect(statSync(p).mode).toBe(statSync(join(dir, 'ref')).mode)
    expect(lib.writeSmall(join(dir, 'u'), 'é\n')).toBe(0)
    expect(readFileSync(join(dir, 'u'), 'utf8')).toBe('é\n')
    expect(lib.writeSmall(join(dir, 'max'), 'm'.repeat(1024))).toBe(0)
    expect(readFileSync(join(dir, 'max'), 'utf8')).toBe('m'.repeat(1024))
    // Too long, no directory, a directory in its place, a path with a NUL: -1, nothing written.
    expect(lib.writeSmall(join(dir, 'long'), 'm'.repeat(1025))).toBe(-1)
    expect(existsSync(join(dir, 'long'))).toBe(false)
    expect(lib.writeSmall(join(dir, 'none', 'x'), seal)).toBe(-1)
    expect(lib.writeSmall(dir, seal)).toBe(-1)
    expect(lib.writeSmall(`${p}\0x`, 'other')).toBe(-1)
    expect(readFileSync(p, 'utf8')).toBe(seal)
    expect(openFds()).toBe(fds)
  })

  it('never takes a path or a text that a multi-byte character at its limit would cut short', () => {
    const lib = loadNativeOpenssl().lib
    if (lib?.renameNoReplace === undefined || lib.writeSmall === undefined) throw new Error('the addon did not load')
    // A 4,094-byte path asked for with one character more: the copy into the addon's 4,096-byte
    // buffer stops before the character, at exactly the shorter path, another file (as readSmall's
    // case, review30). node:fs refuses the whole path (ENAMETOOLONG); the addon must decline (-1).
    const short = path4094()
    expect(Buffer.byteLength(short)).toBe(4094)
    writeFileSync(short, 'kept')
    const src = join(tmpDir(), 'src')
    writeFileSync(src, 'moved')
    for (const extra of ['€', 'é', '😀', 'x€']) {
      const asked = short + extra
      expect(() => writeFileSync(asked, 'x'), extra).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }))
      expect(lib.writeSmall(asked, 'other'), extra).toBe(-1)
      expect(lib.renameNoReplace(src, asked), extra).toBe(-1)
      expect(lib.renameNoReplace(asked, join(dirname(short), 'g')), extra).toBe(-1)
    }
    expect(readFileSync(short, 'utf8')).toBe('kept')
    expect(readFileSync(src, 'utf8')).toBe('moved')
    // A text of 1,023 bytes and a 3-byte character (1,026 bytes, over the limit) is declined, not
    // written as its first 1,023 bytes.
    const p = join(tmpDir(), 'text')
    for (const text of ['m'.repeat(1023) + '€', 'm'.repeat(1022) + '😀', 'm'.repeat(1024) + 'é']) {
      expect(lib.writeSmall(p, text), `${Buffer.byteLength(text)} bytes`).toBe(-1)
      expect(existsSync(p)).toBe(false)
    }
  })

  it('is taken only once this thread has loaded the addon, and never with PETAL_NATIVE_SHA256=0', () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'a'), 'A')
    resetNativeOpenssl()
    expect(renameNoReplaceNative(join(dir, 'a'), join(dir, 'b'))).toBe(-1)
    expect(writeSmallFileNative(join(dir, 's'), 'S')).toBe(-1)
    expect(existsSync(join(dir, 's'))).toBe(false)
    nativeOpenssl()
    expect(renameNoReplaceNative(join(dir, 'a'), join(dir, 'b'))).toBe(0)
    expect(writeSmallFileNative(join(dir, 's'), 'S')).toBe(0)
    process.env.PETAL_NATIVE_SHA256 = '0'
    resetNativeOpenssl()
    nativeOpenssl()
    expect(renameNoReplaceNative(join(dir, 'b'), join(dir, 'c'))).toBe(-1)
  })

  for (const way of ['the addon', 'node:fs'] as const) {
    it(`renameBlock through ${way}: moves the seal and the file, replaces nothing, and replays as a no-op`, () => {
      if (way === 'node:fs') process.env.PETAL_NATIVE_SHA256 = '0'
      resetNativeOpenssl()
      nativeOpenssl()
      const dir = tmpDir()
      mkdirSync(join(dir, 'tmp')); mkdirSync(join(dir, '0000'))
      const put = (p: string, text: string): void => { writeFileSync(p, text) }
      const from = join(dir, 'tmp', 'x.db'); const to = join(dir, '0000', 'block_00000001.db')
      put(from, 'block'); put(from.replace(/\.db$/, '.sig'), 'seal')
      renameBlock(from, to, true)
      expect(readFileSync(to, 'utf8')).toBe('block')
      expect(readFileSync(to.replace(/\.db$/, '.sig'), 'utf8')).toBe('seal')
      expect(existsSync(from)).toBe(false)
      // A replay (both moved already): nothing happens.
      renameBlock(from, to, true)
      expect(readFileSync(to, 'utf8')).toBe('block')
      // Files at the destination are never replaced: each source stays where it is.
      put(from, 'other'); put(from.replace(/\.db$/, '.sig'), 'other seal')
      renameBlock(from, to, true)
      expect(readFileSync(to, 'utf8')).toBe('block')
      expect(readFileSync(to.replace(/\.db$/, '.sig'), 'utf8')).toBe('seal')
      expect(readFileSync(from, 'utf8')).toBe('other')
      // A dangling link at the destination is replaced, as existsSync (which follows it) always let it be.
      const third = join(dir, 'tmp', 'z.db'); const slot = join(dir, '0000', 'block_00000002.db')
      put(third, 'third'); put(third.replace(/\.db$/, '.sig'), 'third seal')
      symlinkSync(join(dir, 'nowhere'), slot)
      renameBlock(third, slot, true)
      expect(lstatSync(slot).isFile()).toBe(true)
      expect(readFileSync(slot, 'utf8')).toBe('third')
      expect(readFileSync(slot.replace(/\.db$/, '.sig'), 'utf8')).toBe('third seal')
      // Undo (the journal's reverse move) back to tmp/.
      const other = join(dir, 'tmp', 'y.db')
      renameBlock(to, other, true)
      expect(readFileSync(other, 'utf8')).toBe('block')
      expect(readFileSync(other.replace(/\.db$/, '.sig'), 'utf8')).toBe('seal')
    })

    it(`prepareGroup through ${way} writes each block's .sig beside it`, async () => {
      if (way === 'node:fs') process.env.PETAL_NATIVE_SHA256 = '0'
      resetNativeOpenssl()
      nativeOpenssl()
      const dir = tmpDir()
      // The syncfs way, where the seals are written before one flush of the file system.
      setSyncfsMode('1')
      const files = Array.from({ length: 8 }, (_, i) => i).map(i => { const f = join(dir, `b${i}.db`); writeFileSync(f, `block ${i}`); return f })
      // A stale longer .sig is truncated, as writeFileSync does.
      writeFileSync(join(dir, 'b3.sig'), 'x'.repeat(500))
      try {
        await prepareGroup(files.map((file, i) => ({ file, seal: `seal${i}` })))
      } finally {
        setSyncfsMode(undefined)
      }
      for (const [i, f] of files.entries()) expect(readFileSync(f.replace(/\.db$/, '.sig'), 'utf8')).toBe(`seal${i}\n`)
    })
  }
})
