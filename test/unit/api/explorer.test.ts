import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { registerExplorer } from '../../../src/api/explorer.js'
import { errorBody, errorStatus } from '../../../src/api/http-errors.js'
import { tmpDir } from '../../helpers/tmp.js'

let app: FastifyInstance | undefined

afterEach(async () => { await app?.close() })

/** The explorer's routes on a bare server, with the API's error shape. */
async function serve (dir: string): Promise<FastifyInstance> {
  app = Fastify()
  app.setErrorHandler(async (err, _req, reply) => await reply.code(errorStatus(err)).send(errorBody(err)))
  // As the API's server: a browser's unknown page gets the explorer's, the rest a coded 404.
  const page = registerExplorer(app, dir)
  app.setNotFoundHandler(async (req, reply) => await (page(req, reply) ?? reply.code(404).send({ error: { code: 'API_NOT_FOUND' } })))
  await app.ready()
  return app
}

function webDir (): string {
  const dir = tmpDir()
  mkdirSync(join(dir, 'assets'))
  writeFileSync(join(dir, 'index.html'), '<!doctype html><main id="main"></main><script type="module" src="/assets/app.js"></script>')
  writeFileSync(join(dir, 'verify.html'), '<!doctype html><script type="module">check()</script>')
  writeFileSync(join(dir, 'assets', 'app.js'), 'render()')
  writeFileSync(join(dir, 'assets', 'app-0123456789ab.js'), 'render()')
  return dir
}

describe('explorer routes', () => {
  it('serve the app page at each explorer path, with a CSP that allows only its own scripts', async () => {
    const a = await serve(webDir())
    for (const url of ['/', '/blocks', '/blocks/12', '/blocks/9a33c728', '/query?sql=SELECT%201']) {
      const r = await a.inject({ url })
      expect(r.statusCode, url).toBe(200)
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(r.body).toContain('/assets/app.js')
      expect(r.headers['content-security-policy']).toMatch(/script-src 'self';.*connect-src 'self'/)
    }
  })

  it('serve the offline verifier page with its inline script allowed by hash, and nothing else', async () => {
    const r = await (await serve(webDir())).inject({ url: '/verify' })
    expect(r.statusCode).toBe(200)
    const hash = createHash('sha256').update('check()').digest('base64')
    expect(r.headers['content-security-policy']).toContain(`script-src 'sha256-${hash}';`)
  })

  it('revalidate assets by ETag, and answer unknown files with a coded 404', async () => {
    const a = await serve(webDir())
    const first = await a.inject({ url: '/assets/app.js' })
    expect(first.statusCode).toBe(200)
    expect(first.headers['content-type']).toBe('text/javascript; charset=utf-8')
    const etag = String(first.headers.etag)
    expect(first.headers['cache-control']).toBe('no-cache')
    expect((await a.inject({ url: '/assets/app.js', headers: { 'if-none-match': etag } })).statusCode).toBe(304)
    // Named by their content: kept by browsers for good.
    expect((await a.inject({ url: '/assets/app-0123456789ab.js' })).headers['cache-control']).toBe('public, max-age=31536000, immutable')
    for (const url of ['/assets/nope.js', '/assets/../index.html', '/assets/%2e%2e/index.html']) {
      const r = await a.inject({ url })
      expect(r.statusCode, url).toBe(404)
      expect(r.json()).toMatchObject({ error: { code: 'API_NOT_FOUND' } })
    }
  })

  it('answer a browser\'s unknown page with the app (404), which says so and links home; the API and assets keep their coded 404', async () => {
    const a = await serve(webDir())
    const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }
    for (const url of ['/nope', '/block/1', '/blocks/1/extra', '/verify/x?y=1']) {
      const r = await a.inject({ url, headers: html })
      expect(r.statusCode, url).toBe(404)
      expect(r.headers['content-type'], url).toBe('text/html; charset=utf-8')
      expect(r.body, url).toContain('/assets/app.js')
      expect(r.headers['content-security-policy']).toMatch(/script-src 'self';/)
    }
    for (const [url, headers] of [['/nope', {}], ['/nope', { accept: 'application/json' }], ['/api/v1/nope', html], ['/assets/nope.js', html]] as const) {
      const r = await a.inject({ url, headers })
      expect(r.statusCode, url).toBe(404)
      expect(r.json(), url).toMatchObject({ error: { code: 'API_NOT_FOUND' } })
    }
    expect((await a.inject({ method: 'POST', url: '/nope', headers: html })).json()).toMatchObject({ error: { code: 'API_NOT_FOUND' } })
  })

  it('say how to build the explorer when its files are missing', async () => {
    const r = await (await serve(join(tmpDir(), 'nothing'))).inject({ url: '/' })
    expect(r.statusCode).toBe(503)
    expect(r.json()).toMatchObject({ error: { code: 'API_EXPLORER_MISSING', hint: 'run `npm run build`' } })
  })

  it('the built explorer\'s first page stays under 100 KB of assets', async () => {
    const a = await serve(join(import.meta.dirname, '..', '..', '..', 'dist', 'web'))
    let total = 0
    const page = await a.inject({ url: '/' })
    expect(page.statusCode, 'run npm run build').toBe(200)
    const assets = [...page.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map(m => m[1] ?? '')
    expect(assets).toHaveLength(2) // the script and the style sheet
    total += page.rawPayload.length
    for (const url of assets) {
      const r = await a.inject({ url })
      expect(r.statusCode, url).toBe(200)
      expect(r.headers['cache-control'], url).toContain('immutable')
      total += r.rawPayload.length
    }
    expect(total).toBeLessThan(100 * 1024)
  })
})
