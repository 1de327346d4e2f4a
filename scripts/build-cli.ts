// Bundles the compiled CLI (dist/ from tsc) into dist/bundle: the entry, one chunk per command
// module (they stay dynamic imports) and shared chunks, so a command loads a few files instead of
// a hundred modules (docs/performance.md). Run by `npm run build`, after tsc.
//
// Worker and child-process entries are bundled under the file names their callers resolve next to
// themselves (`workerScript(import.meta.url, './verify-worker.js')`, the sandbox's `./child.js`),
// and dist/bundle sits two levels below the package root like dist/<module>/, so paths built from
// import.meta.url (the package root, dist/web) resolve the same from a chunk.
// Packages stay in node_modules (loaded as they are from dist/), except commander: every command
// needs it, and one bundled file loads faster than its package.
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')
const out = join(dist, 'bundle')
const BUNDLED = new Set(['commander'])

const pkg: unknown = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const deps = typeof pkg === 'object' && pkg !== null && 'dependencies' in pkg && typeof pkg.dependencies === 'object' && pkg.dependencies !== null ? Object.keys(pkg.dependencies) : []
const external = deps.filter(d => !BUNDLED.has(d)).flatMap(d => [d, `${d}/*`])

const entryPoints = {
  main: 'cli/main.js',
  child: 'query/sandbox/child.js',
  'table-root-worker': 'block/table-root-worker.js',
  'verify-worker': 'chain/verify-worker.js',
  'mirror-worker': 'node/mirror-worker.js',
  'chunk-worker': 'proof/chunk-worker.js'
}

rmSync(out, { recursive: true, force: true })
await build({
  entryPoints: Object.fromEntries(Object.entries(entryPoints).map(([name, file]) => [name, join(dist, file)])),
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  // Error classes name themselves after their class (PetalError: this.name = new.target.name).
  keepNames: true,
  // Commander is CommonJS: its require() of node: modules needs a require in an ES module.
  banner: { js: "import { createRequire as __petalCreateRequire } from 'node:module'; const require = __petalCreateRequire(import.meta.url);" },
  logLevel: 'warning'
})
