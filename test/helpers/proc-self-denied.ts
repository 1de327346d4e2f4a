import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { tmpDir } from './tmp.js'

// proc-self-denied.c compiled once per process with the system's `cc` (as fault-shim.ts does),
// and the environment that preloads it into a child.

let built: string | undefined

/** Path of the compiled library, or undefined with no C compiler. */
export function procSelfDeniedShim (): string | undefined {
  if (built !== undefined && existsSync(built)) return built
  const out = join(tmpDir('petal-deny-shim-'), 'proc-self-denied.so')
  const r = spawnSync('cc', ['-shared', '-fPIC', '-O1', '-o', out, join(import.meta.dirname, 'proc-self-denied.c'), '-ldl'], { encoding: 'utf8' })
  if (r.status !== 0 || !existsSync(out)) return undefined
  built = out
  return out
}

/** A child's environment in which reading /proc/self's links fails with `errno`. */
export function procSelfDeniedEnv (errno: 'EACCES' | 'EPERM'): Record<string, string> {
  const shim = procSelfDeniedShim()
  if (shim === undefined) throw new Error('no C compiler (cc) for the /proc/self shim')
  return { LD_PRELOAD: shim, PETAL_DENY_ERRNO: errno }
}
