import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { builtBytes, BUILT_DIR } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('builtBytes: a file the build generated beside the running script', () => {
  it('is read from <the script\'s folder>/wasm/<name>', () => {
    const dir = tmpDir()
    mkdirSync(join(dir, BUILT_DIR))
    writeFileSync(join(dir, BUILT_DIR, 'x.wasm'), Uint8Array.from([0, 0x61, 0x73, 0x6d]))
    const caller = pathToFileURL(join(dir, 'verify-worker.js')).href
    expect([...builtBytes(caller, 'x.wasm') ?? []]).toEqual([0, 0x61, 0x73, 0x6d])
    // Missing (tsc's dist/, a script whose build wrote no such file): the caller generates it.
    expect(builtBytes(caller, 'y.wasm')).toBeUndefined()
    expect(builtBytes(pathToFileURL(join(dir, 'nested', 'a.js')).href, 'x.wasm')).toBeUndefined()
  })

  it('is never looked for beside TypeScript source (tsx, vitest) nor outside file: URLs', () => {
    const dir = tmpDir()
    mkdirSync(join(dir, BUILT_DIR))
    writeFileSync(join(dir, BUILT_DIR, 'x.wasm'), 'stale')
    expect(builtBytes(pathToFileURL(join(dir, 'sha256-wasm.ts')).href, 'x.wasm')).toBeUndefined()
    expect(builtBytes('data:text/javascript,0', 'x.wasm')).toBeUndefined()
  })

  it('a read error other than a missing file is not taken for "generate it"', () => {
    const dir = tmpDir()
    mkdirSync(join(dir, BUILT_DIR, 'x.wasm'), { recursive: true })
    expect(() => builtBytes(pathToFileURL(join(dir, 'a.js')).href, 'x.wasm')).toThrow(/EISDIR/)
  })
})
