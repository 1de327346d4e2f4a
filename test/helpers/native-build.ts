// What scripts/build-native.ts recorded in dist/native/build.json: whether `npm run build` built
// the native SHA-256 (and why not). Tests of the native hasher run when it was built, and a test
// fails when it was built (on a CPU with SHA-256 instructions) but the manifest does not use it. No
// record (a build that never ran, e.g. `npm run test:unit` on a fresh clone): not built.
// `accelerated`: the built addon says this CPU has SHA-256 instructions (else Petal does not use it).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const DIR = join(import.meta.dirname, '..', '..', 'dist', 'native')

export function nativeBuild (): { built: boolean, accelerated: boolean, reason: string, cc?: string, include?: string } {
  let r: unknown
  try {
    r = JSON.parse(readFileSync(join(DIR, 'build.json'), 'utf8'))
  } catch {
    return { built: false, accelerated: false, reason: 'no dist/native/build.json (npm run build has not run)' }
  }
  if (typeof r !== 'object' || r === null || !('built' in r) || r.built !== true) return { built: false, accelerated: false, reason: typeof r === 'object' && r !== null && 'reason' in r ? String(r.reason) : '' }
  const str = (k: string): string | undefined => k in r && typeof (r as Record<string, unknown>)[k] === 'string' ? String((r as Record<string, unknown>)[k]) : undefined
  return { built: true, accelerated: nativeAddon().accelerated === true, reason: str('reason') ?? '', cc: str('cc'), include: str('include') }
}

/** The built addon's exports, loaded directly (whatever the CPU). */
export function nativeAddon (): { leaves: (buf: Uint8Array, at: number, n: number, out: number) => void, pairs: (buf: Uint8Array, at: number, n: number, out: number) => void, accelerated?: unknown, lanes?: unknown } {
  const m = { exports: {} as Record<string, unknown> }
  process.dlopen(m, join(DIR, 'petal-sha256.node'))
  const { leaves, pairs, accelerated, lanes } = m.exports
  if (typeof leaves !== 'function' || typeof pairs !== 'function') throw new Error('the native addon lacks leaves/pairs')
  return { leaves: (...a) => { Reflect.apply(leaves, undefined, a) }, pairs: (...a) => { Reflect.apply(pairs, undefined, a) }, accelerated, lanes }
}

/** Whether `npm run build` built the native OpenSSL addon (dist/native/petal-openssl.node; build.json's `openssl`). */
export function nativeOpensslBuilt (): boolean {
  return recordedBuilt('openssl')
}

/** Whether `npm run build` built the native row walker (dist/native/petal-rows.node; build.json's `rows`). */
export function nativeRowsBuilt (): boolean {
  return recordedBuilt('rows')
}

/** Whether `npm run build` built the held-bytes SQLite addon (dist/native/petal-held-db.node; build.json's `heldDb`). */
export function nativeHeldDbBuilt (): boolean {
  return recordedBuilt('heldDb')
}

/** Whether `npm run build` built the wal-index SQLite addon (dist/native/petal-wal-index.node; build.json's `walIndex`). */
export function nativeWalIndexBuilt (): boolean {
  return recordedBuilt('walIndex')
}

function recordedBuilt (key: string): boolean {
  try {
    const r: unknown = JSON.parse(readFileSync(join(DIR, 'build.json'), 'utf8'))
    if (typeof r !== 'object' || r === null || !(key in r)) return false
    const a: unknown = (r as Record<string, unknown>)[key]
    return typeof a === 'object' && a !== null && 'built' in a && a.built === true
  } catch {
    return false
  }
}
