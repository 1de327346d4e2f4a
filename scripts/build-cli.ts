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
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')
const out = join(dist, 'bundle')
const BUNDLED = new Set(['commander'])

const pkg: unknown = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const deps = typeof pkg === 'object' && pkg !== null && 'dependencies' in pkg && typeof pkg.dependencies === 'object' && pkg.dependencies !== null ? Object.keys(pkg.dependencies) : []
const external = deps.filter(d => !BUNDLED.has(d)).flatMap(d => [d, `${d}/*`])

/**
 * Entries: the CLI, and every script a module starts beside itself — a worker
 * (`workerScript(import.meta.url, './x-worker.js')`) or a child process (`new URL('./child.js',
 * …)`) — found in the compiled code, so a new worker cannot be left out of the bundle.
 */
function entryPoints (): Record<string, string> {
  const entries: Record<string, string> = { main: join(dist, 'cli', 'main.js') }
  const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter(f => f.endsWith('.js') && !f.startsWith('bundle') && !f.startsWith('web'))
  for (const f of files) {
    const text = readFileSync(join(dist, f), 'utf8')
    for (const m of text.matchAll(/(?:workerScript\(import\.meta\.url, |new URL\()'\.\/([\w-]+)\.js'/g)) {
      const name = m[1] ?? ''
      const file = join(dist, dirname(f), `${name}.js`)
      if (!existsSync(file)) throw new Error(`${f} starts ${name}.js, which is not in dist`)
      if (entries[name] !== undefined && entries[name] !== file) throw new Error(`two scripts named ${name}.js: ${entries[name]} and ${file}; dist/bundle needs unique names`)
      entries[name] = file
    }
  }
  return entries
}

rmSync(out, { recursive: true, force: true })
await build({
  entryPoints: entryPoints(),
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
