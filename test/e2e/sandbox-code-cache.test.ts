import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { petal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

const ROOT = join(import.meta.dirname, '..', '..')

/**
 * The query sandbox runs from the fast bundle's code cache like every script of it, but the CLI
 * kills it as soon as its answer is in, and the write of its missing cache, due once its script
 * had loaded, never came (the process blocks reading its socket until then): every `petal query`
 * started it from the build's seed and compiled the statement's functions from source (~12 M
 * instructions of its ~138 M; docs/performance/query.md, "Session 40: petal query"). It now writes its
 * cache after its first statement, while the CLI waits for it, and the next sandbox takes it.
 */
/** A copy of the built installation: dist/fast with its caches (and the times that name them) or without them. */
function installation (withCaches: boolean): string {
  const copy = join(tmpDir(), 'petal')
  mkdirSync(join(copy, 'dist'), { recursive: true })
  // `cp -a`: cpSync's preserveTimestamps rounds the times to microseconds, and then names other caches.
  if (withCaches) execFileSync('cp', ['-a', join(ROOT, 'dist', 'fast'), join(copy, 'dist', 'fast')])
  else cpSync(join(ROOT, 'dist', 'fast'), join(copy, 'dist', 'fast'), { recursive: true, filter: src => !src.startsWith(join(ROOT, 'dist', 'fast', 'cache')) })
  for (const link of ['node_modules', join('dist', 'native'), join('dist', 'bundle')]) symlinkSync(join(ROOT, link), join(copy, link))
  cpSync(join(ROOT, 'package.json'), join(copy, 'package.json'))
  return copy
}

/** `petal query` of the block count, run from the installation `copy`'s fast bundle on `dir`: its output. */
function countBlocks (copy: string, dir: string): string {
  const r = spawnSync(process.execPath, [join(copy, 'dist', 'fast', 'petal.js'), '--dir', dir, 'query', 'SELECT count(*) AS n FROM _blocks'], { env: { ...process.env, NO_COLOR: '1' }, encoding: 'utf8' })
  expect(r.status, r.stderr).toBe(0)
  return r.stdout
}

describe('the query sandbox\'s code cache', () => {
  it('the build leaves the caches of `petal query` and its sandbox: an installation\'s first query starts from them and writes none; a damaged or stale one is harmless', async () => {
    const copy = installation(true)
    const cacheDir = join(copy, 'dist', 'fast', 'cache')
    const files = (): Record<string, string> => Object.fromEntries(readdirSync(cacheDir).map(f => { const st = statSync(join(cacheDir, f)); return [f, `${st.ino} ${st.mtimeMs} ${st.size}`] }))
    // Where tests ran commands from this build, other caches are there too, some of the query's
    // under other names (other NODE_OPTIONS): the build's are the oldest; the copy keeps only those.
    const oldest = (prefix: string): string => readdirSync(cacheDir).filter(f => f.startsWith(prefix) && f.endsWith('.v8')).sort((a, b) => statSync(join(cacheDir, a)).mtimeMs - statSync(join(cacheDir, b)).mtimeMs)[0] ?? ''
    const keep = [oldest('child-'), oldest('query-')]
    for (const f of readdirSync(cacheDir)) if (!keep.includes(f)) rmSync(join(cacheDir, f))
    const built = files()
    expect(Object.keys(built).map(f => f.replace(/-v\d.*$/, '')).sort()).toEqual(['child', 'query'])
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const query = (): string => countBlocks(copy, dir)
    // The first query of the installation (which builds this directory's mirror too) takes both.
    expect(query()).toBe('{"n":1}\n')
    expect(files()).toEqual(built)

    // Damaged (one of its two copies) or stale (another script's cache under its name): never given
    // to V8, or refused by it; the sandbox answers and writes its own in its place.
    const [child = ''] = Object.keys(built).filter(f => f.startsWith('child-'))
    const [command = ''] = Object.keys(built).filter(f => f.startsWith('query-'))
    const damaged = readFileSync(join(cacheDir, child))
    damaged.fill(0x5a, 100, 4096)
    writeFileSync(join(cacheDir, child), damaged)
    expect(query()).toBe('{"n":1}\n')
    expect(readFileSync(join(cacheDir, child)).subarray(100, 4096).every(b => b === 0x5a)).toBe(false)
    writeFileSync(join(cacheDir, child), readFileSync(join(cacheDir, command)))
    expect(query()).toBe('{"n":1}\n')
    expect(readFileSync(join(cacheDir, child)).equals(readFileSync(join(cacheDir, command)))).toBe(false)
    expect(query()).toBe('{"n":1}\n')
  }, 60_000)

  it('is written after the first statement, holding what that statement compiled, and taken by the next sandbox', async () => {
    // A copy of the fast bundle without code caches of its own (as after `npm ci`; its seeds, named
    // after the scripts' times, do not apply to the copies).
    const copy = installation(false)
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const query = (): string => countBlocks(copy, dir)
    const cacheDir = join(copy, 'dist', 'fast', 'cache')
    const written = (): string[] => readdirSync(cacheDir).filter(f => f.startsWith('child-'))

    expect(query()).toBe('{"n":1}\n')
    expect(written(), 'the sandbox\'s cache').toHaveLength(1)
    const [cache = ''] = written()
    expect(readdirSync(cacheDir).filter(f => f.endsWith('.tmp'))).toEqual([])
    // The build's seed holds the script's compilation alone; the cache also what the statement compiled.
    const [seedFile = ''] = readdirSync(join(ROOT, 'dist', 'fast', 'seed')).filter(f => f.startsWith('child-'))
    const seed = statSync(join(ROOT, 'dist', 'fast', 'seed', seedFile)).size
    const first = statSync(join(cacheDir, cache))
    expect(first.size).toBeGreaterThan(seed * 1.2)

    // The next sandbox starts from that cache and writes none.
    expect(query()).toBe('{"n":1}\n')
    expect(written()).toEqual([cache])
    const second = statSync(join(cacheDir, cache))
    expect([second.ino, second.mtimeMs]).toEqual([first.ino, first.mtimeMs])
  }, 60_000)
})
