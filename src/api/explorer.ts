import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ApiError } from './errors.js'
import { quote, said } from '../util/index.js'

/**
 * The web explorer (docs/explorer.md): static files that `npm run build` makes from web/ into
 * dist/web, served by every node. The pages hold no data: they read the JSON API like any client,
 * so they are public, and the API answers them by its own access rules.
 */

/** dist/web, from src/api (tests) and dist/api (the built node) alike. */
const WEB_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url))

/** Explorer pages: each path is addressable, and the page renders itself from location.pathname. */
const APP_PAGES = ['/', '/blocks', '/blocks/:ref', '/query']
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png'
}

interface Asset { body: Buffer, type: string, etag: string }

/** Every file of the built explorer, read once (they are small: the first page is under 100 KB). */
function loadAssets (dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  if (!existsSync(dir)) return assets
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const type = TYPES[extname(name)]
    if (type === undefined) continue
    const body = readFileSync(join(dir, name))
    assets.set(name.split('\\').join('/'), { body, type, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` })
  }
  return assets
}

/**
 * The pages run only our own scripts: no inline script on the app pages, no remote origin at all.
 * The offline verifier page is one self-contained file, so its inline script is allowed by hash.
 */
function csp (inlineScript?: Buffer): string {
  const script = inlineScript === undefined ? "'self'" : `'sha256-${createHash('sha256').update(inlineScript).digest('base64')}'`
  return `default-src 'none'; script-src ${script}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`
}

/** The script between the verify page's only <script> tags (its CSP hash). */
function inlineScriptOf (html: Buffer): Buffer | undefined {
  const m = /<script type="module">([\s\S]*?)<\/script>/.exec(html.toString('utf8'))
  return m?.[1] === undefined ? undefined : Buffer.from(m[1], 'utf8')
}

/** An asset whose name carries a digest of its content (`app-0123456789ab.js`) never changes. */
const IMMUTABLE = /-[0-9a-f]{12}\.\w+$/

async function send (req: FastifyRequest, reply: FastifyReply, a: Asset | undefined, headers: Record<string, string> = {}, name = ''): Promise<unknown> {
  if (a === undefined) throw new ApiError('API_EXPLORER_MISSING', `the web explorer is not built (no ${WEB_DIR})`, { hint: 'run `npm run build`' })
  const cache = IMMUTABLE.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache'
  void reply.headers({ ...headers, ETag: a.etag, 'Cache-Control': cache, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' })
  if (req.headers['if-none-match'] === a.etag) return await reply.code(304).send()
  return await reply.type(a.type).send(a.body)
}

/** What answers a request no route takes: the explorer's page, or nothing (the API's 404). */
export type PageNotFound = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown> | undefined

/**
 * Register the explorer's pages and assets on the server (public: they carry no chain data).
 * Returns the answer to a browser's page the explorer does not have (a mistyped or old link): the
 * app, with status 404, which says "no such page" under its navigation bar, where it was the API's JSON
 * error (user47). Only a GET or HEAD that accepts HTML and is not under /api/ or /assets/.
 */
export function registerExplorer (app: FastifyInstance, dir = WEB_DIR): PageNotFound {
  const assets = loadAssets(dir)
  const index = assets.get('index.html')
  const verify = assets.get('verify.html')
  const appCsp = csp()
  const verifyCsp = verify === undefined ? appCsp : csp(inlineScriptOf(verify.body))
  const config = { access: 'public' as const }
  for (const url of APP_PAGES) {
    app.get(url, { config }, async (req, reply) => await send(req, reply, index, { 'Content-Security-Policy': appCsp }))
  }
  app.get('/verify', { config }, async (req, reply) => await send(req, reply, verify, { 'Content-Security-Policy': verifyCsp }))
  app.get('/assets/*', { config }, async (req, reply) => {
    const name = req.url.split('?')[0]?.slice('/'.length) ?? ''
    const a = assets.get(decodeURIComponent(name))
    if (a === undefined && index !== undefined) {
      throw new ApiError('API_NOT_FOUND', said`no such file: ${quote(name)}`, { hint: 'the explorer\'s pages are /, /blocks, /query and /verify' })
    }
    return await send(req, reply, a, { 'Content-Security-Policy': appCsp }, name)
  })
  return (req, reply) => {
    const path = req.url.split('?')[0] ?? ''
    if ((req.method !== 'GET' && req.method !== 'HEAD') || index === undefined || /^\/(?:api|assets)(?:\/|$)/.test(path)) return undefined
    if (!String(req.headers.accept ?? '').includes('text/html')) return undefined
    return send(req, reply.code(404), index, { 'Content-Security-Policy': appCsp })
  }
}
