// The CLI's bundles find the native SHA-256 (dist/native, resolved from dist/fast/<script>.js and
// its worker threads): with PETAL_NATIVE_SHA256=1 a thread that hashes a table's leaves without
// it fails with NATIVE_SHA256_UNAVAILABLE, so these runs pass only if every one of them loaded it.
// With PETAL_NATIVE_SHA256=0 the same commands hash in WebAssembly and agree.
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { petal } from '../helpers/cli.js'
import { nativeBuild } from '../helpers/native-build.js'
import { tmpDir } from '../helpers/tmp.js'

describe.skipIf(!nativeBuild().accelerated)('the native SHA-256 from the CLI\'s fast bundle', () => {
  it('signimportblock (its table-root threads: 70,000 rows) and verify --deep (its worker) load it; with it off they agree', async () => {
    const dir = join(tmpDir(), 'data')
    const on = { PETAL_NATIVE_SHA256: '1' }
    const off = { PETAL_NATIVE_SHA256: '0' }
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const big = await petal(['--dir', dir, '--json', 'signimportblock', makeSqlite(join(tmpDir(), 'big.db'), 70_000, 3)], { env: on })
    expect(big.code, big.stderr).toBe(0)
    const small = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'small.db'), 3000, 4)], { env: off })
    expect(small.code, small.stderr).toBe(0)
    for (const env of [on, off]) {
      const r = await petal(['--dir', dir, 'verify', '--deep'], { env })
      expect(r.code, `${JSON.stringify(env)}: ${r.stderr}`).toBe(0)
    }
  })
})
