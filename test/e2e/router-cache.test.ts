// The start-up router (dist/fast/petal.js) runs through a code cache of its own, which bin/petal.js
// reads and the router writes at a plain run's exit (docs/performance/import.md, "Session 43: the 100-row
// import"): compiled from source it cost every command ~2 M instructions. What must hold: the
// cache is written once and then used as it is; a damaged one (V8 would crash on a damaged body)
// or a named pipe in its place is no cache; a process with Node options runs without it and writes
// none; the ES module bundle's commands (help, --version) still run, with nothing on stderr. Each
// case runs a copy of the installation of its own (helpers/install.ts): the build's cache
// directory is shared with every test file running beside this one, whose commands write it.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { petal } from '../helpers/cli.js'
import { installationCopy } from '../helpers/install.js'
import { tmpDir } from '../helpers/tmp.js'

const routerCaches = (cacheDir: string): string[] => readdirSync(cacheDir).filter(f => /^router-.*\.v8$/.test(f))
// A plain process: no Node options (vitest's own must not reach the command).
const PLAIN = { NODE_OPTIONS: '' }

/** Whether the file holds two equal copies of a cache (what bin/petal.js accepts). */
function twoCopies (file: string): boolean {
  const b = readFileSync(file)
  return b.length > 0 && b.length % 2 === 0 && b.subarray(0, b.length / 2).equals(b.subarray(b.length / 2))
}

describe('the router\'s code cache', () => {
  it('is written by the first plain run, then read as it is; a damaged one is rewritten; a named pipe there is no cache', async () => {
    const { cli, cacheDir } = installationCopy()
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'], { cli, env: PLAIN })).code).toBe(0)
    const first = await petal(['--dir', dir, 'status'], { cli, env: PLAIN })
    expect(first.code, first.stderr).toBe(0)
    const caches = routerCaches(cacheDir)
    expect(caches).toHaveLength(1)
    const [name = ''] = caches
    expect(name).toMatch(/^router-v\d+\.\d+\.\d+-\w+-\d+-\d+\.v8$/)
    const file = join(cacheDir, name)
    expect(twoCopies(file)).toBe(true)
    const written = statSync(file)
    const again = await petal(['--dir', dir, 'status'], { cli, env: PLAIN })
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toBe(first.stdout)
    // Found and taken: not written again.
    expect(statSync(file).mtimeMs).toBe(written.mtimeMs)
    expect(statSync(file).ino).toBe(written.ino)
    // One byte changed in the second copy: no cache (never given to V8), and written again whole.
    const bytes = readFileSync(file)
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff
    writeFileSync(file, bytes)
    const damaged = await petal(['--dir', dir, 'status'], { cli, env: PLAIN })
    expect(damaged.code, damaged.stderr).toBe(0)
    expect(damaged.stdout).toBe(first.stdout)
    expect(twoCopies(file)).toBe(true)
    // A named pipe in its place: no wait for a writer, no cache; the run goes on from source.
    rmSync(file)
    execFileSync('mkfifo', [file])
    try {
      const piped = await petal(['--dir', dir, 'status'], { cli, env: PLAIN })
      expect(piped.code, piped.stderr).toBe(0)
      expect(piped.stdout).toBe(first.stdout)
    } finally {
      rmSync(file, { force: true })
    }
  })

  it('a process with Node options runs without it and writes none; help and --version run from the ES module bundle with it', async () => {
    const { cli, cacheDir } = installationCopy()
    const dir = join(tmpDir(), 'data')
    const withOptions = { NODE_OPTIONS: '--max-old-space-size=3003' }
    expect((await petal(['--dir', dir, 'init'], { cli, env: withOptions })).code).toBe(0)
    const optioned = await petal(['--dir', dir, 'status'], { cli, env: withOptions })
    expect(optioned.code, optioned.stderr).toBe(0)
    expect(routerCaches(cacheDir)).toEqual([])
    const plain = await petal(['--dir', dir, 'status'], { cli, env: PLAIN })
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout).toBe(optioned.stdout)
    expect(routerCaches(cacheDir)).toHaveLength(1)
    // The router's import() of the ES module bundle is bin/petal.js's: the cached script has none.
    for (const args of [['--version'], ['--help']]) {
      const r = await petal(args, { cli, env: PLAIN })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).not.toBe('')
      expect(r.stderr).toBe('')
    }
  })
})
