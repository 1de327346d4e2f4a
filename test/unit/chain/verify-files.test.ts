// Plain verify reads a small block file and its seal whole without fstat (storage/data-file.ts
// readWholeSync): a file of another size, an empty one, one of a chunk or more, a directory or a
// named pipe in a slot is still caught at its height with the code it had when each file was
// fstat'ed first (this test was run against that build too), and a seal with room to spare is read as before.
// Since session 29 a worker that has loaded the OpenSSL addon reads both with one native call
// (crypto's readSmallFileNative, native/read-small.c): every case runs that way and with
// PETAL_NATIVE_SHA256=0 (node:fs alone), with the same codes at the same height.
import { afterEach, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { signImport, type VerifyReport } from '../../../src/chain/index.js'
import { newTestChain, verifyDamagedCopy } from '../../helpers/chain.js'

const BAD = 5
// The worker's chunk: a block file shorter than this is read whole without fstat.
const CHUNK = 1 << 20

const saved = process.env.PETAL_NATIVE_SHA256
afterEach(() => {
  if (saved === undefined) delete process.env.PETAL_NATIVE_SHA256
  else process.env.PETAL_NATIVE_SHA256 = saved
})

describe.each([['native reads', true], ['node:fs reads', false]])('plain verify of block and seal files read without fstat (%s)', (_, native) => {
  it('catches a file of another size, a directory, a named pipe and a link in either slot, with the same codes', async () => {
    // The workers start with this environment (a pool per verify).
    if (native) delete process.env.PETAL_NATIVE_SHA256
    else process.env.PETAL_NATIVE_SHA256 = '0'
    const t = await newTestChain()
    for (let i = 0; i < 9; i++) await signImport(t.chain, undefined, t.key)
    const seal = t.chain.get(BAD)?.seal ?? ''
    t.chain.close()
    const path = (dir: string, ext = 'db'): string => join(dir, '0000', `block_${BAD.toString(16).padStart(8, '0')}.${ext}`)
    // One worker (a pool per verify: 48 of them): the genesis goes alone in the first batch, the
    // other blocks in the second, so with two workers the second read all of them anyway.
    const run = async (damage: (dir: string) => void): Promise<VerifyReport['failure']> => await verifyDamagedCopy(t.dir, damage, 1)
    const slot = (dir: string, ext: string, make: (p: string) => void): void => { rmSync(path(dir, ext)); make(path(dir, ext)) }
    const fifo = (p: string): void => { execFileSync('mkfifo', [p]) }
    // A link to a copy of the file it replaces: only the link itself is wrong.
    const link = (p: string): void => { copyFileSync(p, `${p}.real`); rmSync(p); symlinkSync(`${p}.real`, p) }
    const cases: Array<[string, (dir: string) => void, string | undefined]> = [
      ['nothing', () => {}, undefined],
      ['a block file grown by a byte', dir => { appendFileSync(path(dir), Buffer.of(0)) }, 'CORRUPT'],
      ['a block file grown by a page', dir => { appendFileSync(path(dir), Buffer.alloc(4096)) }, 'CORRUPT'],
      ['a block file one byte short', dir => { truncateSync(path(dir), readFileSync(path(dir)).length - 1) }, 'CORRUPT'],
      ['an empty block file', dir => { truncateSync(path(dir), 0) }, 'NOT_SQLITE'],
      ['a block file grown to a chunk less a byte', dir => { truncateSync(path(dir), CHUNK - 1) }, 'CORRUPT'],
      ['a block file grown to a chunk', dir => { truncateSync(path(dir), CHUNK) }, 'CORRUPT'],
      ['a block file grown past a chunk', dir => { truncateSync(path(dir), CHUNK + 4096) }, 'CORRUPT'],
      ['a directory as the block file', dir => { slot(dir, 'db', p => { mkdirSync(p) }) }, 'DATA_FILE_NOT_REGULAR'],
      ['a named pipe as the block file', dir => { slot(dir, 'db', fifo) }, 'DATA_FILE_NOT_REGULAR'],
      ['a symbolic link as the block file', dir => { link(path(dir)) }, 'DATA_FILE_NOT_REGULAR'],
      ['no block file', dir => { rmSync(path(dir)) }, 'BLOCK_FILE_MISSING'],
      ['an empty seal', dir => { writeFileSync(path(dir, 'sig'), '') }, 'BAD_SEAL'],
      ['the seal without its newline', dir => { writeFileSync(path(dir, 'sig'), seal) }, undefined],
      ['the seal padded to 510 bytes', dir => { writeFileSync(path(dir, 'sig'), seal.padEnd(510, ' ')) }, undefined],
      ['the seal padded to 511 bytes', dir => { writeFileSync(path(dir, 'sig'), seal.padEnd(511, ' ')) }, undefined],
      ['the seal padded to 5,000 bytes', dir => { writeFileSync(path(dir, 'sig'), seal.padEnd(5000, '\n')) }, undefined],
      ['the seal and more', dir => { writeFileSync(path(dir, 'sig'), seal.padEnd(600, ' ') + 'x') }, 'BAD_SEAL'],
      // Read whole, 3 GiB failed in readSync (an uncoded RangeError that ended the whole verify).
      ['a seal of 3 GiB (sparse)', dir => { truncateSync(path(dir, 'sig'), 3 * 2 ** 30) }, 'BAD_SEAL'],
      ['the seal padded past 64 KiB', dir => { writeFileSync(path(dir, 'sig'), seal.padEnd(64 * 1024 + 1, '\n')) }, 'BAD_SEAL'],
      ['a directory as the seal', dir => { slot(dir, 'sig', p => { mkdirSync(p) }) }, 'DATA_FILE_NOT_REGULAR'],
      ['a named pipe as the seal', dir => { slot(dir, 'sig', fifo) }, 'DATA_FILE_NOT_REGULAR'],
      ['a symbolic link as the seal', dir => { link(path(dir, 'sig')) }, 'DATA_FILE_NOT_REGULAR'],
      ['no seal', dir => { rmSync(path(dir, 'sig')) }, 'BLOCK_FILE_MISSING']
    ]
    const got: Array<{ what: string, code: string | undefined, height: number | undefined }> = []
    for (const [what, damage] of cases) {
      const f = await run(damage)
      got.push({ what, code: f?.code, height: f?.height })
    }
    expect(got).toEqual(cases.map(([what, , code]) => ({ what, code, height: code === undefined ? undefined : BAD })))
  }, 180_000) // 24 verifies, each with its own worker: ~50 s at a load of 24 with two each
})
