// A `signimportblock` from the CLI's fast bundle with the native OpenSSL addon built loads no
// node:crypto at all: the key, the three signatures, the two verifications and every hash go
// through dist/native/petal-openssl.node, and the temporary names through Math.random
// (docs/performance/import.md, "Session 23: the 100-row import"). With PETAL_NATIVE_SHA256=0 the same
// import goes through node:crypto, and the chain verifies either way. A preloaded script reports
// Node's list of loaded internal modules at exit.
import { describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { petal, spawnPetal } from '../helpers/cli.js'
import { nativeOpensslBuilt } from '../helpers/native-build.js'
import { tmpDir } from '../helpers/tmp.js'

const REPORT = `process.on('exit', () => { process.stderr.write('\\nCRYPTO_MODULES ' + process.moduleLoadList.filter(m => /crypto/.test(m)).length + '\\n') })\n`

async function cryptoModules (dir: string, rows: string, env: Record<string, string>): Promise<number> {
  const preload = join(tmpDir(), 'report.cjs')
  writeFileSync(preload, REPORT)
  const r = await spawnPetal(['--dir', dir, 'signimportblock', rows], { env, nodeOptions: ['--require', preload] }).exit
  expect(r.code, r.stderr).toBe(0)
  const m = /CRYPTO_MODULES (\d+)/.exec(r.stderr)
  expect(m, r.stderr).not.toBeNull()
  return Number(m?.[1])
}

// Counts calls of node:url's path conversions (the fast bundle's import.meta.url getter makes one
// with pathToFileURL; resolving a URL against it and fileURLToPath compiled ~16 of node:url's
// functions, ~2.3 M instructions of a 100-row import: docs/performance/import.md, "Session 24").
const URL_CALLS = `const url = require('node:url'); let n = 0
for (const k of ['fileURLToPath', 'pathToFileURL']) { const f = url[k]; url[k] = function (...a) { n++; return f.apply(this, a) } }
process.on('exit', () => { process.stderr.write('\\nURL_CALLS ' + n + '\\n') })\n`

describe.skipIf(!nativeOpensslBuilt())('the native OpenSSL addon from the CLI', () => {
  it('a 100-row signimportblock loads no node:crypto; with PETAL_NATIVE_SHA256=0 it does; the chain verifies', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    // '' rather than unset: the test process's own environment (which the CLI inherits) may set it.
    expect(await cryptoModules(dir, makeSqlite(join(tmpDir(), 'a.db'), 100, 1), { PETAL_NATIVE_SHA256: '' })).toBe(0)
    expect(await cryptoModules(dir, makeSqlite(join(tmpDir(), 'b.db'), 100, 2), { PETAL_NATIVE_SHA256: '0' })).toBeGreaterThan(0)
    for (const env of [{ PETAL_NATIVE_SHA256: '' }, { PETAL_NATIVE_SHA256: '0' }]) {
      const v = await petal(['--dir', dir, 'verify'], { env })
      expect(v.code, v.stderr).toBe(0)
    }
  })

  it('a 100-row signimportblock finds the addon without a file URL (no node:url path conversion)', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const preload = join(tmpDir(), 'url-calls.cjs')
    writeFileSync(preload, URL_CALLS)
    const r = await spawnPetal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'a.db'), 100, 1)], { env: { PETAL_NATIVE_SHA256: '' }, nodeOptions: ['--require', preload] }).exit
    expect(r.code, r.stderr).toBe(0)
    expect(/URL_CALLS (\d+)/.exec(r.stderr)?.[1], r.stderr).toBe('0')
    // And it did sign and hash through the addon (what the path is for).
    expect(await cryptoModules(dir, makeSqlite(join(tmpDir(), 'b.db'), 100, 2), { PETAL_NATIVE_SHA256: '' })).toBe(0)
  })
})
