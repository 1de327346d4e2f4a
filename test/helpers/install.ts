import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { tmpDir } from './tmp.js'

const ROOT = join(import.meta.dirname, '..', '..')

export interface Installation {
  /** The copy's root: bin/, dist/, package.json, node_modules. */
  root: string
  /** Its bin/petal.js, for the `cli` option of petal(), spawnPetal() and petalLogged(). */
  cli: string
  /** Its dist/fast/cache, where its commands keep their code caches. */
  cacheDir: string
}

/**
 * A copy of the built installation in a directory of its own, for a test that writes, damages or
 * removes the code caches a CLI keeps in its installation: the build's dist/fast/cache is shared
 * with every test file running beside it, whose commands read and write it meanwhile (a cache
 * this test had just read was rewritten by another file's process under it). bin/ and dist/fast
 * are copied with `cp -a`: caches and seeds are named by their scripts' sizes and times,
 * which cpSync's preserveTimestamps rounds to microseconds; node_modules, genesis/ and the
 * rest of dist/ are linked. Its cache directory starts empty (the build's is not copied: other files'
 * commands replace its files while a copy would read them).
 */
export function installationCopy (): Installation {
  const root = join(tmpDir(), 'petal')
  const fast = join(ROOT, 'dist', 'fast')
  const cacheDir = join(root, 'dist', 'fast', 'cache')
  mkdirSync(cacheDir, { recursive: true })
  const parts = readdirSync(fast).filter(f => f !== 'cache').map(f => join(fast, f))
  execFileSync('cp', ['-a', ...parts, join(root, 'dist', 'fast')])
  execFileSync('cp', ['-a', join(ROOT, 'bin'), join(root, 'bin')])
  const rest = readdirSync(join(ROOT, 'dist')).filter(f => f !== 'fast').map(f => join('dist', f))
  for (const link of ['node_modules', 'genesis', ...rest]) symlinkSync(join(ROOT, link), join(root, link))
  cpSync(join(ROOT, 'package.json'), join(root, 'package.json'))
  return { root, cli: join(root, 'bin', 'petal.js'), cacheDir }
}
