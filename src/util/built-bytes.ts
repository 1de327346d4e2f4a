import { readFileSync } from 'node:fs'
import { isNotFound } from './fs.js'

/** Where the build puts generated files beside a script (dist/fast/wasm, dist/bundle/wasm). */
export const BUILT_DIR = 'wasm'

/**
 * The file `name` that the build generated beside the running script, `callerUrl` being the
 * caller's import.meta.url: in dist/fast that is the stub that started the thread, in dist/bundle
 * the chunk, so both find `<that directory>/wasm/<name>`, which scripts/build-cli.ts writes from
 * the same sources in the same run as the scripts. Undefined where there is none (TypeScript run
 * through tsx, tsc's own dist/): the caller then generates the bytes itself, as the build did.
 * Why: generating the SHA-256 module in JavaScript costs a fresh thread 30-45 ms of CPU, reading
 * it well under one.
 */
export function builtBytes (callerUrl: string, name: string): Uint8Array | undefined {
  if (!callerUrl.startsWith('file:') || callerUrl.endsWith('.ts')) return undefined
  try {
    return readFileSync(new URL(`./${BUILT_DIR}/${name}`, callerUrl))
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
}
