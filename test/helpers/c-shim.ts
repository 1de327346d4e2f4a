import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { tmpDir } from './tmp.js'

// A preload library of test/helpers/NAME.c, compiled once per process with the system's `cc` into a
// temporary directory (never committed as a binary): fault-shim.ts, proc-self-denied.ts.

const built = new Map<string, string>()

/** Path of test/helpers/`name`.c compiled as a shared library, or undefined with no C compiler. */
export function compileShim (name: string): string | undefined {
  const done = built.get(name)
  if (done !== undefined && existsSync(done)) return done
  const out = join(tmpDir(`petal-${name}-`), `${name}.so`)
  const r = spawnSync('cc', ['-shared', '-fPIC', '-O1', '-o', out, join(import.meta.dirname, `${name}.c`), '-ldl'], { encoding: 'utf8' })
  if (r.status !== 0 || !existsSync(out)) return undefined
  built.set(name, out)
  return out
}
