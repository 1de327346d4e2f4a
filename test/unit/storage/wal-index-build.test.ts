import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { tmpDir } from '../../helpers/tmp.js'

// The -wal check's extension needs no Node headers (session 40: an SQLite extension only, no Node
// addon; before, node_api.h), nor OpenSSL's: since session 39 a build without it cannot write
// chain.db or pending.db (WAL_CHECK_MISSING), and build-native.ts asked every addon for
// openssl/sha.h and openssl/ec.h, which the SQLite extensions never include (review39's finding).
// Runs the build script in a copy of its tree, beside a Node whose include directory holds
// node_api.h's four headers and nothing of OpenSSL, then beside one that holds nothing.

const repo = join(import.meta.dirname, '..', '..', '..')
const headers = join(dirname(process.execPath), '..', 'include', 'node')
const API = ['node_api.h', 'node_api_types.h', 'js_native_api.h', 'js_native_api_types.h']
const haveCc = spawnSync('cc', ['--version']).status === 0
const haveHeaders = API.every(h => existsSync(join(headers, h)))

/** Run build-native.ts in a copy of its tree beside a Node whose include directory holds `withHeaders`; its build.json. */
function buildBeside (withHeaders: string[]): { built: boolean, reason: string, walIndex: { built: boolean, reason: string }, heldDb: { built: boolean, reason: string } } {
  const t = tmpDir()
  const node = join(t, 'bin', 'node')
  mkdirSync(dirname(node), { recursive: true })
  try { linkSync(process.execPath, node) } catch { copyFileSync(process.execPath, node) }
  mkdirSync(join(t, 'include', 'node'), { recursive: true })
  for (const h of withHeaders) copyFileSync(join(headers, h), join(t, 'include', 'node', h))
  const root = join(t, 'root')
  for (const f of ['scripts/build-native.ts', 'src/storage/native/wal-index.c', 'src/block/native/held-db.c', 'src/crypto/native/sha256-batch.c', 'src/crypto/native/sha256-ni.c']) {
    mkdirSync(dirname(join(root, f)), { recursive: true })
    copyFileSync(join(repo, f), join(root, f))
  }
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'))
  // No node-gyp cache to fall back on: only the Node beside its include directory.
  const r = spawnSync(node, ['--import', 'tsx', join(root, 'scripts', 'build-native.ts')], { cwd: root, encoding: 'utf8', env: { ...process.env, npm_config_devdir: join(t, 'no-cache'), PETAL_NATIVE_BUILD: '' } })
  expect(r.status, r.stderr).toBe(0)
  expect(existsSync(join(root, 'dist', 'native', 'petal-wal-index.node'))).toBe(true)
  return JSON.parse(readFileSync(join(root, 'dist', 'native', 'build.json'), 'utf8'))
}

describe.runIf(process.platform === 'linux' && haveCc && haveHeaders)('build-native.ts without OpenSSL\'s headers, or any Node headers', () => {
  it('builds the SQLite extensions (the -wal check among them) and says what the others lack', () => {
    const built = buildBeside(API)
    expect(built.walIndex).toMatchObject({ built: true })
    expect(built.heldDb).toMatchObject({ built: true })
    // The SHA-256 addon does include OpenSSL's headers: not built, and the reason names them.
    expect(built).toMatchObject({ built: false })
    expect(built.reason).toContain('openssl/sha.h')
  })

  it('builds the -wal check with no Node headers at all: a C compiler is all it needs (failed on the old code: "Node\'s headers (node_api.h) not found", and Petal could not write)', () => {
    const built = buildBeside([])
    expect(built.walIndex).toMatchObject({ built: true })
    expect(built.heldDb).toMatchObject({ built: false, reason: expect.stringContaining('node_api.h') })
  })
})
