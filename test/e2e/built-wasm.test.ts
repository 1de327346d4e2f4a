import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { builtWasmFiles, leafModuleBytes, LEAF_WASM_FILE } from '../../src/block/index.js'
import { sha256ModuleBytes, SHA256_WASM_FILE } from '../../src/crypto/index.js'
import { BUILT_DIR } from '../../src/util/index.js'

const ROOT = join(import.meta.dirname, '..', '..')

// The build writes the WebAssembly modules' bytes beside the fast bundle's and the ES module
// bundle's scripts, which read them instead of generating them (src/util/built-bytes.ts). They
// must be what the generators give from this source: a stale or different file would hash wrong.
describe('the WebAssembly bytes the build wrote', () => {
  const generated = builtWasmFiles()

  it('are the generators\' output, in both bundles', () => {
    expect(Object.keys(generated).sort()).toEqual([LEAF_WASM_FILE, SHA256_WASM_FILE].sort())
    expect(Buffer.from(generated[SHA256_WASM_FILE] ?? []).equals(sha256ModuleBytes())).toBe(true)
    expect(Buffer.from(generated[LEAF_WASM_FILE] ?? []).equals(leafModuleBytes())).toBe(true)
    for (const bundle of ['fast', 'bundle']) {
      const dir = join(ROOT, 'dist', bundle, BUILT_DIR)
      expect(readdirSync(dir).sort(), dir).toEqual(Object.keys(generated).sort())
      for (const [name, bytes] of Object.entries(generated)) {
        expect(readFileSync(join(dir, name)).equals(bytes), `dist/${bundle}/${BUILT_DIR}/${name}`).toBe(true)
      }
    }
  })
})
