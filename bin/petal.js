#!/usr/bin/env node
// Entry point of the `petal` command (CommonJS: bin/package.json): runs the compiled CLI (built by
// `npm ci` through `prepare`). dist/fast/petal.js picks the fast bundle or the ES module bundle for
// the command (docs/performance.md, "Start-up of local commands").
'use strict'
const { closeSync, constants, existsSync, fstatSync, openSync, readSync } = require('node:fs')
const { join } = require('node:path')
const fast = join(__dirname, '..', 'dist', 'fast')
const router = join(fast, 'petal.js')
if (!existsSync(router)) {
  process.stderr.write('petal: error: the CLI is not built [NOT_BUILT]\n  hint: run `npm ci` (or `npm run build`) in the repository\n')
  process.exit(1)
}
// The router runs through a code cache of its own: compiled from source, it cost every command ~3 M
// instructions (docs/performance.md, "Session 43: the 100-row import"). Only in a process without
// Node options (they would make V8 refuse it). Named by the router's size and time, as the
// commands' caches are (src/cli/code-cache.ts), and written by the router at a plain run's exit
// (fast-start.ts) as two copies: V8 checks a cache's header, not its body, and a
// damaged body would crash the process, so a file whose copies differ is no cache.
if (process.execArgv.length > 0 || (process.env.NODE_OPTIONS ?? '') !== '') {
  require(router)
} else {
  const read = (fd, buf, len, pos) => {
    let got = 0
    for (let n = -1; n !== 0 && got < len; got += n) n = readSync(fd, buf, got, len - got, pos + got)
    return got
  }
  const fd = openSync(router, 'r')
  let source, file
  try {
    const st = fstatSync(fd)
    file = join(fast, 'cache', `router-${process.version}-${process.arch}-${st.size}-${Math.trunc(st.mtimeMs)}.v8`)
    const buf = Buffer.allocUnsafeSlow(st.size)
    source = '(function (exports, require, module, __filename, __dirname) { ' + buf.toString('latin1', 0, read(fd, buf, st.size, 0)) + '\n})'
  } finally {
    closeSync(fd)
  }
  let cachedData
  try {
    // Without waiting (a named pipe there is no cache), and only a regular file of a cache's size.
    const cfd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK)
    try {
      const st = fstatSync(cfd)
      const half = st.size / 2
      if (st.isFile() && half > 0 && Number.isInteger(half) && st.size <= 64 << 20) {
        const both = Buffer.allocUnsafeSlow(st.size)
        const first = both.subarray(0, half)
        if (read(cfd, both, st.size, 0) === st.size && first.equals(both.subarray(half))) cachedData = first
      }
    } finally {
      closeSync(cfd)
    }
  } catch {}
  const { Script } = require('node:vm')
  const script = new Script(source, { filename: router, cachedData })
  // Missing or refused: the router writes it at exit (fast-start.ts). And this module's import():
  // a script's own needs a loader option that Node 20 calls experimental (a warning on stderr).
  const write = cachedData === undefined || script.cachedDataRejected === true
  globalThis[Symbol.for('petal.router-cache')] = { file: write ? file : undefined, script: write ? script : undefined, import: url => import(url) }
  const module = { exports: {} }
  script.runInThisContext().call(module.exports, module.exports, require, module, router, fast)
}
