// Builds the web explorer (web/ → dist/web): one minified bundle for the app pages, and the
// offline verifier page as a single self-contained HTML file (script and styles inlined).
// Run by `npm run build`, after tsc.
import { createHash } from 'node:crypto'
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

// Asset names carry a digest of their content, so the node can let browsers keep them for good
// (Cache-Control: immutable) and a new build is never mixed with an old one.
const named = (base: string, ext: string, body: string): string => `${base}-${createHash('sha256').update(body).digest('hex').slice(0, 12)}.${ext}`
const appJs = named('app', 'js', app)
const appCss = named('app', 'css', css)
rmSync(out, { recursive: true, force: true })
mkdirSync(join(out, 'assets'), { recursive: true })
writeFileSync(join(out, 'assets', appJs), app)
writeFileSync(join(out, 'assets', appCss), css)
const index = readFileSync(join(web, 'index.html'), 'utf8')
if (!index.includes('/assets/app.js') || !index.includes('/assets/app.css')) throw new Error('web/index.html must load /assets/app.js and /assets/app.css')
writeFileSync(join(out, 'index.html'), index.replace('/assets/app.js', () => `/assets/${appJs}`).replace('/assets/app.css', () => `/assets/${appCss}`))
const page = readFileSync(join(web, 'verify.html'), 'utf8')
writeFileSync(join(out, 'verify.html'), page.replace('/*STYLE*/', () => css).replace('/*SCRIPT*/', () => verify.trimEnd()))
