import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'

// A preload library of test/helpers/NAME.c, compiled with the system's `cc` (never committed as a
// binary): fault-shim.ts, proc-self-denied.ts. Compiled once for the suite, not once per test file
// (~0.35 s of CPU each, in some 16 files): kept in node_modules/.cache/petal-test-shims under the
// hash of its source and the compiler's arguments, so an edited .c is compiled again.

const CACHE = join(import.meta.dirname, '..', '..', 'node_modules', '.cache', 'petal-test-shims')
const built = new Map<string, string>()

/** Path of test/helpers/`name`.c compiled as a shared library, or undefined with no C compiler. */
export function compileShim (name: string): string | undefined {
  const done = built.get(name)
  if (done !== undefined && existsSync(done)) return done
  const source = join(import.meta.dirname, `${name}.c`)
  const args = ['-shared', '-fPIC', '-O1', '-ldl']
  const hash = createHash('sha256').update(readFileSync(source)).update(args.join(' ')).update(process.arch).digest('hex').slice(0, 16)
  const out = join(CACHE, `${name}-${hash}.so`)
  if (!existsSync(out)) {
    mkdirSync(CACHE, { recursive: true })
    // Forks of the suite may compile it at once: each into a name of its own, renamed into place whole.
    const tmp = `${out}.${process.pid}.tmp`
    const r = spawnSync('cc', ['-shared', '-fPIC', '-O1', '-o', tmp, source, '-ldl'], { encoding: 'utf8' })
    if (r.status !== 0 || !existsSync(tmp)) { rmSync(tmp, { force: true }); return undefined }
    renameSync(tmp, out)
  }
  built.set(name, out)
  return out
}
