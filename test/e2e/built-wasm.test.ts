import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { builtWasmFiles, leafModuleBytes, LEAF_WASM_FILE } from '../../src/block/index.js'
import { sha256ModuleBytes, SHA256_WASM_FILE } from '../../src/crypto/index.js'
import { BUILT_DIR } from '../../src/util/index.js'
import { makeSqlite } from '../helpers/chain.js'
import { petal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

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

  it('the threads that hash carry their SHA-256s (the build\'s define reached every script)', () => {
    const digests = Object.values(generated).map(b => createHash('sha256').update(b).digest('hex'))
    for (const script of ['verify-worker.js', 'table-root-worker.js', 'load-worker.js', 'cmd-signimportblock.js']) {
      const code = readFileSync(join(ROOT, 'dist', 'fast', 'code', script), 'utf8')
      for (const d of digests) expect(code.includes(d), `${script} has ${d}`).toBe(true)
    }
    for (const dir of [join(ROOT, 'dist', 'fast', 'code'), join(ROOT, 'dist', 'bundle')]) {
      for (const f of readdirSync(dir).filter(n => n.endsWith('.js'))) expect(readFileSync(join(dir, f), 'utf8'), f).not.toContain('__PETAL_BUILT_WASM__')
    }
  })

  // A copy of the fast bundle whose WebAssembly files are not its build's: the SHA-256 module with
  // one bit of a round constant flipped (it compiles and hashes, wrongly), the leaf encoder's cut
  // short. Before the scripts checked the files' SHA-256s, signimportblock signed a block with a
  // wrong manifest root and verify --deep called a sound block damaged (MANIFEST_MISMATCH), or
  // failed to compile the module; now they generate the bytes and agree with the real build.
  it('a copy of the bundle with a wrong sha256.wasm and a cut short leaf.wasm hashes right all the same', async () => {
    const copy = join(tmpDir(), 'petal')
    mkdirSync(join(copy, 'dist'), { recursive: true })
    cpSync(join(ROOT, 'dist', 'fast'), join(copy, 'dist', 'fast'), { recursive: true, filter: src => !src.startsWith(join(ROOT, 'dist', 'fast', 'cache')) })
    for (const link of ['node_modules', join('dist', 'native'), join('dist', 'bundle')]) symlinkSync(join(ROOT, link), join(copy, link))
    cpSync(join(ROOT, 'package.json'), join(copy, 'package.json'))
    const sha = Buffer.from(readFileSync(join(copy, 'dist', 'fast', BUILT_DIR, SHA256_WASM_FILE)))
    const k0 = Buffer.alloc(16)
    for (let lane = 0; lane < 4; lane++) k0.writeUInt32LE(0x428a2f98, 4 * lane)
    const at = sha.indexOf(k0)
    expect(at).toBeGreaterThan(0)
    sha[at] = (sha[at] ?? 0) ^ 1
    writeFileSync(join(copy, 'dist', 'fast', BUILT_DIR, SHA256_WASM_FILE), sha)
    const leaf = readFileSync(join(copy, 'dist', 'fast', BUILT_DIR, LEAF_WASM_FILE))
    writeFileSync(join(copy, 'dist', 'fast', BUILT_DIR, LEAF_WASM_FILE), leaf.subarray(0, leaf.length >> 1))

    // The WebAssembly SHA-256, not the native one: the module under test hashes every leaf.
    const env = { ...process.env, NO_COLOR: '1', PETAL_NATIVE_SHA256: '0' }
    const copied = (args: string[]): { status: number | null, stderr: string } => spawnSync(process.execPath, [join(copy, 'dist', 'fast', 'petal.js'), ...args], { env, encoding: 'utf8' })
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    // The copy signs a block of 5,000 rows (the SHA-256 module hashes them, the leaf encoder encodes them)...
    const signed = copied(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'big.db'), 5000, 5)])
    expect(signed.status, signed.stderr).toBe(0)
    // ...which the real build verifies, and the copy verifies too.
    const real = await petal(['--dir', dir, 'verify', '--deep'], { env: { PETAL_NATIVE_SHA256: '0' } })
    expect(real.code, real.stderr).toBe(0)
    const again = copied(['--dir', dir, 'verify', '--deep'])
    expect(again.status, again.stderr).toBe(0)
  })
})
