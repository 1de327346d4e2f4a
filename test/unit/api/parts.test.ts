import { describe, expect, it } from 'vitest'
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { httpStatusOf, isLoopbackHost, parseHttpAddress, TokenStore, ApiError } from '../../../src/api/index.js'
import { parseRange } from '../../../src/api/block-files.js'
import { MetricsRegistry } from '../../../src/api/metrics.js'
import { QueryError } from '../../../src/query/index.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('api: addresses', () => {
  it('parses --http values', () => {
    expect(parseHttpAddress('127.0.0.1:2018')).toEqual({ host: '127.0.0.1', port: 2018 })
    expect(parseHttpAddress('localhost:0')).toEqual({ host: 'localhost', port: 0 })
    expect(parseHttpAddress('[::1]:80')).toEqual({ host: '::1', port: 80 })
    expect(parseHttpAddress('8080')).toEqual({ host: '127.0.0.1', port: 8080 })
    for (const bad of ['', 'x', ':80', '::1:80', 'host:99999', 'host:-1', 'a b:80', '[nothex]:80', '1.2.3.4:80x']) {
      expect(() => parseHttpAddress(bad), bad).toThrow(ApiError)
    }
  })

  it('knows loopback names and addresses', () => {
    for (const h of ['localhost', 'LOCALHOST', 'app.localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true)
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'localhost.example', 'example.com', '::2']) expect(isLoopbackHost(h), h).toBe(false)
  })
})

describe('api: byte ranges', () => {
  it('reads single ranges and ignores what it cannot serve as one', () => {
    expect(parseRange(undefined, 100)).toBeUndefined()
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 })
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 })
    expect(parseRange('bytes=90-500', 100)).toEqual({ start: 90, end: 99 })
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 })
    expect(parseRange('bytes=-500', 100)).toEqual({ start: 0, end: 99 })
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable')
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable')
    for (const ignored of ['bytes=5-1', 'bytes=0-1,3-4', 'items=0-1', 'bytes=-', 'bytes=a-b']) expect(parseRange(ignored, 100), ignored).toBeUndefined()
  })
})

describe('api: statuses of codes', () => {
  it('maps each kind of error to its status, and only non-Petal errors to 500', () => {
    expect(httpStatusOf(new QueryError('QUERY_SYNTAX', 'x', { details: { sqliteMessage: 'x' } }))).toBe(400)
    expect(httpStatusOf(new QueryError('QUERY_NOT_READONLY', 'x'))).toBe(403)
    expect(httpStatusOf(new QueryError('QUERY_TIMEOUT', 'x', { details: { timeoutMs: 1 } }))).toBe(422)
    expect(httpStatusOf(new QueryError('QUERY_SANDBOX_FAILED', 'x'))).toBe(503)
    expect(httpStatusOf(new ApiError('API_BUSY', 'x'))).toBe(429)
    expect(httpStatusOf(new ApiError('API_UNAUTHORIZED', 'x'))).toBe(401)
    expect(httpStatusOf(new Error('bug'))).toBe(500)
  })
})

describe('api: metrics', () => {
  it('renders counters with escaped labels, gauges and cumulative histograms', () => {
    const r = new MetricsRegistry()
    const c = r.counter('x_total', 'x')
    c.inc({ route: '/a"b\\c\nd' })
    c.inc({ route: '/a"b\\c\nd' }, 2)
    r.gauge('g', 'g', () => 7)
    r.gauge('skipped', 'absent', () => undefined)
    const h = r.histogram('h_seconds', 'h', [0.1, 1])
    h.observe(0.05)
    h.observe(0.5)
    h.observe(5)
    expect(r.render()).toBe([
      '# HELP x_total x', '# TYPE x_total counter', 'x_total{route="/a\\"b\\\\c\\nd"} 3',
      '# HELP g g', '# TYPE g gauge', 'g 7',
      '# HELP skipped absent', '# TYPE skipped gauge',
      '# HELP h_seconds h', '# TYPE h_seconds histogram',
      'h_seconds_bucket{le="0.1"} 1', 'h_seconds_bucket{le="1"} 2', 'h_seconds_bucket{le="+Inf"} 3', 'h_seconds_sum 5.55', 'h_seconds_count 3', ''
    ].join('\n'))
  })
})

describe('api: tokens', () => {
  it('verifies only the exact token, by hash; the file never holds a secret', () => {
    const dir = tmpDir()
    const store = TokenStore.of(dir)
    const { token, info } = store.create({ scope: 'write', name: 'w' })
    expect(store.verify(token)).toEqual(info)
    expect(store.verify(token + 'x')).toBeUndefined()
    expect(store.verify(token.toUpperCase())).toBeUndefined()
    expect(store.verify('')).toBeUndefined()
    expect(readFileSync(join(dir, 'api', 'tokens.json'), 'utf8')).not.toContain(token.slice(20))
    // Another process's change is seen at the next check.
    const other = TokenStore.of(dir)
    const second = other.create({ scope: 'read' })
    expect(store.verify(second.token)?.scope).toBe('read')
    other.revoke('w')
    expect(store.verify(token)).toBeUndefined()
    expect(() => other.revoke('w')).toThrow(expect.objectContaining({ code: 'API_TOKEN_NOT_FOUND' }))
    // A token verified before (and so known by its text) is refused once revoked, by this store or another.
    expect(store.verify(second.token)?.scope).toBe('read')
    store.revoke(second.info.id)
    expect(store.verify(second.token)).toBeUndefined()
    const third = other.create({ scope: 'write', name: 'w3' })
    expect(store.verify(third.token)).toEqual(third.info)
    expect(store.verify(third.token)).toEqual(third.info)
    expect(store.verify(third.token.slice(0, -1) + (third.token.endsWith('A') ? 'B' : 'A'))).toBeUndefined()
    other.revoke('w3')
    expect(store.verify(third.token)).toBeUndefined()
    const fourth = store.create({ scope: 'write', name: 'w4' })
    expect(store.verify(fourth.token)).toEqual(fourth.info)
    writeFileSync(join(dir, 'api', 'tokens.json'), '{"tokens": [{"id": 1}]}')
    // Corruption is reported to a known token too.
    expect(() => store.verify(fourth.token)).toThrow(expect.objectContaining({ code: 'API_TOKENS_CORRUPT' }))
    expect(() => store.verify(second.token)).toThrow(expect.objectContaining({ code: 'API_TOKENS_CORRUPT' }))
  })

  it("refuses a cached token's id with another secret, and every write moves the file's mtime forward", () => {
    const dir = tmpDir()
    const store = TokenStore.of(dir)
    const { token } = store.create({ scope: 'write', name: 'w' })
    expect(store.verify(token)?.name).toBe('w')
    const sameId = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21)
    expect(store.verify(sameId)).toBeUndefined()
    expect(store.verify(token)?.name).toBe('w')
    // A file clock behind the last write (a coarse tick, or a clock set back) still gives a later mtime.
    const file = join(dir, 'api', 'tokens.json')
    const future = Date.now() / 1000 + 3600
    utimesSync(file, future, future)
    store.revoke('w')
    expect(statSync(file).mtimeMs).toBeGreaterThan(future * 1000)
    expect(store.verify(token)).toBeUndefined()
  })
})
