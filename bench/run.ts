// `npm run bench`: runs each benchmark file in its own process (so memory and warm caches of one
// do not colour another) and prints their tables. `npm run bench -- core` runs a subset.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const dir = import.meta.dirname
const only = process.argv.slice(2)
const files = readdirSync(dir).filter(f => f.endsWith('.bench.ts')).sort()
  .filter(f => only.length === 0 || only.some(o => f.startsWith(o)))
process.stdout.write(`# Petal benchmarks (${new Date().toISOString()}, node ${process.version}, ${files.length} suites)\n`)
let failed = 0
for (const f of files) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', join(dir, 'peak-rss.mjs'), join(dir, f)], { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=4096' } })
  if (r.status !== 0) { failed++; process.stdout.write(`\n!! ${f} failed with status ${r.status ?? r.signal}\n`) }
}
process.exitCode = failed === 0 ? 0 : 1
