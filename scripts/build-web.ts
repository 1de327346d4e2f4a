// Builds the web explorer (web/ → dist/web): one minified bundle for the app pages, and the
// offline verifier page as a single self-contained HTML file (script and styles inlined).
// Run by `npm run build`, after tsc.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, transform } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const web = join(root, 'web')
const out = join(root, 'dist', 'web')
// What every browser of the last few years runs (WebCrypto, ES modules, EventSource, String.isWellFormed).
const target = ['chrome111', 'firefox119', 'safari16.4']

async function bundle (entry: string): Promise<string> {
  const r = await build({ entryPoints: [join(web, entry)], bundle: true, minify: true, format: 'esm', target, write: false, legalComments: 'none', charset: 'utf8' })
  const js = r.outputFiles[0]?.text
  if (js === undefined) throw new Error(`esbuild made nothing of ${entry}`)
  return js
}

const css = (await transform(readFileSync(join(web, 'style.css'), 'utf8'), { loader: 'css', minify: true, target })).code
const app = await bundle('src/main.ts')
const verify = await bundle('src/verify/main.ts')
// Inlined into <script>: a "</script" in the code would end it early.
if (/<\/script/i.test(verify)) throw new Error('the verifier bundle contains "</script": it cannot be inlined')

rmSync(out, { recursive: true, force: true })
mkdirSync(join(out, 'assets'), { recursive: true })
writeFileSync(join(out, 'assets', 'app.js'), app)
writeFileSync(join(out, 'assets', 'app.css'), css)
writeFileSync(join(out, 'index.html'), readFileSync(join(web, 'index.html'), 'utf8'))
const page = readFileSync(join(web, 'verify.html'), 'utf8')
writeFileSync(join(out, 'verify.html'), page.replace('/*STYLE*/', () => css).replace('/*SCRIPT*/', () => verify.trimEnd()))
