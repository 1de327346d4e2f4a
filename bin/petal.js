#!/usr/bin/env node
// Entry point of the `petal` command (CommonJS: bin/package.json): runs the compiled CLI (built by
// `npm ci` through `prepare`). dist/fast/petal.js picks the fast bundle or the ES module bundle for
// the command (docs/performance.md, "Start-up of local commands").
'use strict'
const { existsSync } = require('node:fs')
const { join } = require('node:path')
const router = join(__dirname, '..', 'dist', 'fast', 'petal.js')
if (!existsSync(router)) {
  process.stderr.write('petal: error: the CLI is not built [NOT_BUILT]\n  hint: run `npm ci` (or `npm run build`) in the repository\n')
  process.exit(1)
}
require(router)
