// esbuild plugins that patch packages as scripts/build-cli.ts bundles them into dist/fast: each
// makes a start-up cost of a package lazy or direct, and fails the build when the package's code no
// longer has the text it replaces (so an upgrade cannot silently drop the patch).
import { readFileSync } from 'node:fs'
import type { Plugin } from 'esbuild'

// better-sqlite3's JavaScript is bundled too (a dozen small files less to resolve and compile), and
// its native addon is loaded from where its build put it when this build ran (a path relative to
// dist/fast, opened with process.dlopen as require() does, without resolving the package and
// realpath-ing each directory: a few ms on every start); the `bindings` package it asks would
// parse a stack trace and try a dozen paths. Any other layout goes through that search. (node:module
// only there: the query sandbox never loads it otherwise, docs/performance/query.md, "Session 42: petal query").
/** better-sqlite3's `bindings` call, replaced: `sqliteRelease` is the addon's directory relative to dist/fast. */
export function sqliteAddonPlugin (sqliteRelease: string): Plugin {
  return {
    name: 'sqlite-addon',
    setup (b) {
      b.onResolve({ filter: /^bindings$/ }, a => a.importer.includes('/node_modules/better-sqlite3/') ? { path: 'bindings', namespace: 'sqlite-addon' } : undefined)
      b.onLoad({ filter: /.*/, namespace: 'sqlite-addon' }, () => ({
        loader: 'js',
        contents: `const { existsSync } = require('node:fs')
const { dirname, join } = require('node:path')
module.exports = function (name) {
  const built = join(__dirname, ${JSON.stringify(sqliteRelease)}, name)
  if (existsSync(built)) {
    const addon = { exports: {} }
    process.dlopen(addon, built)
    return addon.exports
  }
  const pkg = require.resolve('better-sqlite3/package.json')
  try {
    return require(join(dirname(pkg), 'build', 'Release', name))
  } catch (err) {
    if (err === null || typeof err !== 'object' || err.code !== 'MODULE_NOT_FOUND') throw err
  }
  return require('node:module').createRequire(pkg)('bindings')(name)
}
`
      }))
    }
  }
}
// Commander loads node:child_process (and with it net, dgram, tty, streams) at the top of its
// Command class, for executable subcommands, which Petal does not have: in the fast bundle it is
// loaded on the first spawn instead, a few ms less on every start.
export const lazyCommanderSpawn: Plugin = {
  name: 'lazy-commander-spawn',
  setup (b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, a => {
      const eager = "const childProcess = require('node:child_process');"
      const text = readFileSync(a.path, 'utf8')
      if (!text.includes(eager)) throw new Error(`${a.path} no longer has ${eager}: update lazyCommanderSpawn in scripts/package-patches.ts`)
      return { loader: 'js', contents: text.replace(eager, "let loadedChildProcess; const childProcess = { spawn: (...args) => (loadedChildProcess ??= require('node:child_process')).spawn(...args) };") }
    })
  }
}
// better-sqlite3 promisifies fs.access when its backup method's module loads, for `db.backup()`,
// which Petal does not call: in the fast bundle it is promisified at the first backup instead, so
// that a command that promisifies nothing (`status`) does not compile node:util's promisify
// (docs/performance/startup.md, "Session 24: start-up").
export const lazySqliteBackup: Plugin = {
  name: 'lazy-sqlite-backup',
  setup (b) {
    b.onLoad({ filter: /[\\/]better-sqlite3[\\/]lib[\\/]methods[\\/]backup\.js$/ }, a => {
      const eager = 'const fsAccess = promisify(fs.access);'
      const text = readFileSync(a.path, 'utf8')
      if (!text.includes(eager)) throw new Error(`${a.path} no longer has ${eager}: update lazySqliteBackup in scripts/package-patches.ts`)
      return { loader: 'js', contents: text.replace(eager, 'let promisedAccess; const fsAccess = (...args) => (promisedAccess ??= promisify(fs.access))(...args);') }
    })
  }
}
