import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { beginBuild, stampHolds, writeStamp } from '../../../scripts/build-stamp.js'
import { tmpDir } from '../../helpers/tmp.js'

// `npm test` skips the build only when dist/ is the complete build of the sources as they are
// (scripts/build-stamp.ts): any edit to what the build reads, or to what it left, builds again.

const BUILT = JSON.stringify({ built: true, openssl: { built: true }, heldDb: { built: true }, walIndex: { built: true } })

function put (root: string, rel: string, text: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true })
  writeFileSync(join(root, rel), text)
}

/** A package laid out as the build sees it, built (begin, the build's files, write). */
function built (): string {
  const root = tmpDir()
  for (const rel of ['src/cli/main.ts', 'src/block/read.ts', 'web/src/main.ts', 'web/style.css', 'scripts/build-cli.ts', 'bin/petal.js', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'node_modules/.package-lock.json']) put(root, rel, `// ${rel}\n`)
  beginBuild(root)
  for (const rel of ['dist/cli/main.js', 'dist/fast/petal.js', 'dist/fast/cache/query-x.v8', 'dist/web/index.html']) put(root, rel, `// ${rel}\n`)
  put(root, 'dist/native/build.json', BUILT)
  expect(writeStamp(root)).toBe(true)
  return root
}

const env = process.env.NODE_OPTIONS
afterEach(() => {
  if (env === undefined) delete process.env.NODE_OPTIONS
  else process.env.NODE_OPTIONS = env
})

describe('the build stamp (scripts/build-stamp.ts): npm test builds again after any change', () => {
  it('holds for the build as it was left', () => {
    expect(stampHolds(built())).toBe(true)
  })

  it.each([
    ['a source edited', 'src/block/read.ts'],
    ['a source added', 'src/block/new.ts'],
    ['the explorer edited', 'web/style.css'],
    ['a build script edited', 'scripts/build-cli.ts'],
    ['a script added', 'scripts/build-more.ts'],
    ['bin/ edited', 'bin/petal.js'],
    ['package.json edited', 'package.json'],
    ['the build config edited', 'tsconfig.build.json'],
    ['the TypeScript config edited', 'tsconfig.json'],
    ['the lock file edited', 'package-lock.json'],
    ['the packages installed again', 'node_modules/.package-lock.json']
  ])('fails with %s', (_, rel) => {
    const root = built()
    put(root, rel, 'changed\n')
    expect(stampHolds(root)).toBe(false)
  })

  it('fails with a source removed', () => {
    const root = built()
    rmSync(join(root, 'src', 'cli', 'main.ts'))
    expect(stampHolds(root)).toBe(false)
  })

  it.each([
    ['a built file changed', 'dist/cli/main.js'],
    ['a code cache written by a run', 'dist/fast/cache/router-y.v8'],
    ['a file added to dist', 'dist/extra.js']
  ])('fails with %s', (_, rel) => {
    const root = built()
    put(root, rel, 'changed\n')
    expect(stampHolds(root)).toBe(false)
  })

  it('fails with a built file removed, or no dist at all', () => {
    const root = built()
    rmSync(join(root, 'dist', 'web', 'index.html'))
    expect(stampHolds(root)).toBe(false)
    rmSync(join(root, 'dist'), { recursive: true })
    expect(stampHolds(root)).toBe(false)
  })

  it('fails under other Node options (the code caches are named after them)', () => {
    const root = built()
    process.env.NODE_OPTIONS = `${env ?? ''} --max-old-space-size=4000`
    expect(stampHolds(root)).toBe(false)
  })

  it('fails when a native addon was not built', () => {
    const root = built()
    put(root, 'dist/native/build.json', JSON.stringify({ ...JSON.parse(BUILT) as object, walIndex: { built: false, reason: 'cc failed' } }))
    // build.json is an output too; a stamp written over it still does not count.
    beginBuild(root)
    expect(writeStamp(root)).toBe(true)
    expect(stampHolds(root)).toBe(false)
  })

  it('writes no stamp when a source changed while the build ran, and a new build starts without one', () => {
    const root = built()
    beginBuild(root)
    expect(stampHolds(root)).toBe(false)
    put(root, 'src/block/read.ts', 'saved during the build\n')
    expect(writeStamp(root)).toBe(false)
    expect(stampHolds(root)).toBe(false)
    beginBuild(root)
    expect(writeStamp(root)).toBe(true)
    expect(stampHolds(root)).toBe(true)
  })
})
