// `node --import tsx scripts/build-stamp.ts begin|write|check`: lets `npm test` skip a build whose
// inputs and outputs are exactly those of the last complete build. `npm ci` builds (the prepare
// script), and `npm test` built again from the same files: ~12 s of CPU for nothing, on 2 cores
// beside the type-check (docs/performance/suite.md, "Session 55: the build once and the longest files first (suite55u)").
//
// `begin` (the first step of `npm run build`, which always builds) removes the stamp and notes the
// inputs' digest; `write` (its last step) records it with a digest of what the build left in dist/,
// in dist/build-stamp.json, if the inputs are still those it began with (a file saved while the
// build ran leaves no stamp). `check` exits 0 when both digests are unchanged, 1 otherwise, and
// `npm run build:changed` (what `npm test` runs) then builds. The inputs: every file under src/,
// web/, scripts/ and bin/, the package and TypeScript configs, node_modules/.package-lock.json (npm
// rewrites it at every install), and what the build takes from its environment: Node's version,
// binary and options, the C compiler's name and binary, the native build's switch and npm's header
// directory. The outputs: every file in dist/, so a build cut short, a file removed or changed, or a
// code cache written by a later run (the CLI writes dist/fast/cache) makes `check` fail: a skipped
// build leaves dist/ exactly as a complete build of these inputs left it. A native addon left
// unbuilt (no compiler or headers at the time) never counts: the next `npm test` tries again.
import { createHash, type Hash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { delimiter, join, relative } from 'node:path'

const INPUT_DIRS = ['src', 'web', 'scripts', 'bin']
const INPUT_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'node_modules/.package-lock.json']
const ENV = ['NODE_OPTIONS', 'CC', 'PETAL_NATIVE_BUILD', 'npm_config_devdir']
const STAMP = 'build-stamp.json'
/** The inputs' digest as the build began (`begin`). */
const BEGUN = 'build-stamp.begun'

/** Every file under `dir`, by path relative to `root`, sorted: a digest that does not depend on readdir's order. */
function filesUnder (root: string, dir: string): string[] {
  if (!existsSync(join(root, dir))) return []
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter(e => e.isFile() || e.isSymbolicLink())
    .map(e => relative(root, join(e.parentPath, e.name)))
    .sort()
}

function addFile (h: Hash, root: string, rel: string): void {
  const file = join(root, rel)
  h.update(`${rel}\0`)
  h.update(existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : 'absent')
  h.update('\n')
}

/** The C compiler the native build runs (`CC`, else `cc`, on PATH): its resolved binary, size and time. */
function compiler (): string {
  const cc = process.env.CC ?? 'cc'
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, cc)
    if (dir === '' || !existsSync(p)) continue
    const real = realpathSync(p)
    const s = statSync(real)
    return `${real} ${s.size} ${s.mtimeMs}`
  }
  return `${cc} not found`
}

export function inputsDigest (root: string): string {
  const h = createHash('sha256')
  for (const rel of [...INPUT_DIRS.flatMap(d => filesUnder(root, d)), ...INPUT_FILES]) addFile(h, root, rel)
  h.update(JSON.stringify({ node: process.version, execPath: process.execPath, arch: process.arch, env: ENV.map(k => process.env[k] ?? null), cc: compiler() }))
  return h.digest('hex')
}

export function outputsDigest (root: string): string {
  const h = createHash('sha256')
  for (const rel of filesUnder(root, 'dist')) if (rel !== join('dist', STAMP) && rel !== join('dist', BEGUN)) addFile(h, root, rel)
  return h.digest('hex')
}

/** Every native addon built (dist/native/build.json): one left out is built again next time. */
function nativeComplete (root: string): boolean {
  try {
    const b = JSON.parse(readFileSync(join(root, 'dist', 'native', 'build.json'), 'utf8')) as Record<string, unknown>
    return [b, b.openssl, b.heldDb, b.walIndex].every(x => typeof x === 'object' && x !== null && 'built' in x && x.built === true)
  } catch {
    return false
  }
}

/** The first step of a build: no stamp while it runs, and the inputs it starts from. */
export function beginBuild (root: string): void {
  const dist = join(root, 'dist')
  rmSync(join(dist, STAMP), { force: true })
  mkdirSync(dist, { recursive: true })
  writeFileSync(join(dist, BEGUN), inputsDigest(root))
}

/** The last step of a build: the stamp, if the inputs are those the build began with; whether it wrote one. */
export function writeStamp (root: string): boolean {
  const begun = join(root, 'dist', BEGUN)
  const before = existsSync(begun) ? readFileSync(begun, 'utf8') : undefined
  rmSync(begun, { force: true })
  const inputs = inputsDigest(root)
  if (before !== inputs) return false
  writeFileSync(join(root, 'dist', STAMP), JSON.stringify({ inputs, outputs: outputsDigest(root) }) + '\n')
  return true
}

/** Whether dist/ is the complete build of the inputs as they are now. */
export function stampHolds (root: string): boolean {
  const file = join(root, 'dist', STAMP)
  if (!existsSync(file) || !nativeComplete(root)) return false
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as { inputs?: unknown, outputs?: unknown }
    return s.inputs === inputsDigest(root) && s.outputs === outputsDigest(root)
  } catch {
    return false
  }
}

if (process.argv[1] === import.meta.filename) {
  const root = join(import.meta.dirname, '..')
  const command = process.argv[2]
  if (command === 'begin') {
    beginBuild(root)
  } else if (command === 'write') {
    if (!writeStamp(root)) process.stderr.write('petal build: the sources changed while it ran: no build stamp, the next npm test builds again\n')
  } else if (command === 'check') {
    const holds = stampHolds(root)
    if (holds) process.stdout.write('petal build: dist/ is the build of these sources (dist/build-stamp.json): not built again\n')
    process.exitCode = holds ? 0 : 1
  } else {
    throw new Error('usage: build-stamp.ts begin|write|check')
  }
}
