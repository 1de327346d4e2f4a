#!/usr/bin/env node
// Entry point of the `petal` command: runs the compiled CLI (built by `npm ci` through `prepare`).
import { existsSync } from 'node:fs'
const main = new URL('../dist/bundle/main.js', import.meta.url)
if (!existsSync(main)) {
  process.stderr.write('petal: error: the CLI is not built [NOT_BUILT]\n  hint: run `npm ci` (or `npm run build`) in the repository\n')
  process.exit(1)
}
await import(main.href)
