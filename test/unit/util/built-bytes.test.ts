import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { builtBytes, BUILT_DIR } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'

const X = Uint8Array.from([0, 0x61, 0x73, 0x6d])
const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex')
// The digests the build puts into a bundle's code (scripts/build-cli.ts) for this test's files.
const DIGESTS = { 'x.wasm': sha256(X), 'y.wasm': sha256('y') }

describe('builtBytes: a file the build generated beside the running script', () => {
  it('is read from <the script\'s folder>/wasm/<name>', () => {
    const dir = tmpDir()
    mkdirSync(join(dir, BUILT_DIR))
    writeFileSync(join(dir, BUILT_DIR, 'x.wasm'), X)
    const caller = pathToFileURL(join(dir, 'verify-worker.js')).href
    expect([...builtBytes(caller, 'x.wasm', DIGESTS) ?? []]).toEqual([...X])
    // Missing (tsc's dist/, a script whose build wrote no such file): the caller generates it.
    expect(builtBytes(caller, 'y.wasm', DIGESTS)).toBeUndefined()
    expect(builtBytes(pathToFileURL(join(dir, 'nested', 'a.js')).href, 'x.wasm', DIGESTS)).toBeUndefined()
  })

  it('only with the SHA-256 the build put into the script: a stale, cut short or replaced file is not used (the caller generates the bytes)', () => {
    const dir = tmpDir()
    mkdirSync(join(dir, BUILT_DIR))
    const caller = pathToFileURL(join(dir, 'a.js')).href
    for (const other of [X.subarray(0, 3), Uint8Array.from([...X, 0]), Uint8Array.from([0, 0x61, 0x73, 0x6e]), new Uint8Array(0)]) {
      writeFileSync(join(dir, BUILT_DIR, 'x.wasm'), other)
      expect(builtBytes(caller, 'x.wasm', DIGESTS), `${other.length} bytes`).toBeUndefined()
    }
    writeFileSync(join(dir, BUILT_DIR, 'x.wasm'), X)
    // A script the build put no digest into (tsc's dist/, these tests through tsx): none is used.
    expect(builtBytes(caller, 'x.wasm')).toBeUndefined()
    expect(builtBytes(caller, 'x.wasm', {})).toBeUndefined()
  })

  it('is never looked for beside TypeScript source (tsx, vitest) nor outside file: URLs', () => {
    const dir = tmpDir()
    mkdirSync(join(dir, BUILT_DIR))
    writeFileSync(join(dir, BUILT_DIR, 'x.wasm'), 'stale')
    expect(builtBytes(pathToFileURL(join(dir, 'sha256-wasm.ts')).href, 'x.wasm', { 'x.wasm': sha256('stale') })).toBeUndefined()
    expect(builtBytes('data:text/javascript,0', 'x.wasm', { 'x.wasm': sha256('stale') })).toBeUndefined()
  })

  it('a read error other than a missing file is not taken for "generate it"', () => {
    const dir = tmpDir()
    mkdirSync(join(dir, BUILT_DIR, 'x.wasm'), { recursive: true })
    expect(() => builtBytes(pathToFileURL(join(dir, 'a.js')).href, 'x.wasm', DIGESTS)).toThrow(/EISDIR/)
  })
})
