import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isNotFound } from './fs.js'

/** Where the build puts generated files beside a script (dist/fast/wasm, dist/bundle/wasm). */
export const BUILT_DIR = 'wasm'

// The SHA-256 (hex) of each file the build generated, by name, as JSON text: put into the
// bundles' code by scripts/build-cli.ts (an esbuild define, a string: an object would be a module
// of its own that every bundled module initialises) from the very bytes it writes beside them.
// Outside the bundles (tsx, tsc's own dist/) it is not defined and no built file is used.
declare const __PETAL_BUILT_WASM__: string | undefined
let builtDigests: Readonly<Record<string, string>> | undefined
function digestsOfBuild (): Readonly<Record<string, string>> {
  builtDigests ??= typeof __PETAL_BUILT_WASM__ === 'string' ? JSON.parse(__PETAL_BUILT_WASM__) as Record<string, string> : {}
  return builtDigests
}

/**
 * The file `name` that the build generated beside the running script, `callerUrl` being the
 * caller's import.meta.url: in dist/fast that is the stub that started the thread, in dist/bundle
 * the chunk, so both find `<that directory>/wasm/<name>`, which scripts/build-cli.ts writes from
 * the same sources in the same run as the scripts. Undefined where there is none (TypeScript run
 * through tsx, tsc's own dist/): the caller then generates the bytes itself, as the build did.
 * Why: generating the SHA-256 module in JavaScript costs a fresh thread 30-45 ms of CPU, reading
 * it well under one.
 *
 * Only bytes whose SHA-256 is the one the build put into this script (`digests`) are returned:
 * a file from another build (one that failed after its scripts and before these files, or ran
 * beside this one), cut short, or replaced would otherwise be compiled as it is, and a wrong
 * SHA-256 or leaf encoder module gives wrong roots, that is wrong verdicts, with no error. Any
 * other file is treated as absent: the caller generates the bytes from its own code.
 */
export function builtBytes (callerUrl: string, name: string, digests: Readonly<Record<string, string>> = digestsOfBuild()): Uint8Array | undefined {
  if (!callerUrl.startsWith('file:') || callerUrl.endsWith('.ts')) return undefined
  const want = digests[name]
  if (want === undefined) return undefined
  let bytes: Buffer
  try {
    bytes = readFileSync(new URL(`./${BUILT_DIR}/${name}`, callerUrl))
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
  return createHash('sha256').update(bytes).digest('hex') === want ? bytes : undefined
}
