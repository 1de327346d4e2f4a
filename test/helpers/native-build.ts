// What scripts/build-native.ts recorded in dist/native/build.json: whether `npm run build` built
// the native SHA-256 (and why not). Tests of the native hasher run when it was built, and a test
// fails when it was built but the manifest does not use it. No record (a build that never ran,
// e.g. `npm run test:unit` on a fresh clone): not built.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export function nativeBuild (): { built: boolean, reason: string } {
  try {
    const r: unknown = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'dist', 'native', 'build.json'), 'utf8'))
    if (typeof r === 'object' && r !== null && 'built' in r && typeof r.built === 'boolean') return { built: r.built, reason: 'reason' in r ? String(r.reason) : '' }
  } catch { /* no record */ }
  return { built: false, reason: 'no dist/native/build.json (npm run build has not run)' }
}
