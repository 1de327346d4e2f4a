// The benchmark's lean HTTP/1.1 client (bench/lean-http.ts) against real node:http servers: the
// bodies node:http frames (Content-Length, chunked), a kept-alive connection reused, an idle
// connection the server closed replaced, and a loud failure on framing it does not support.
import { createServer, type RequestListener, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { LeanPool, prepareRequest } from '../../../bench/lean-http.js'

const servers: Server[] = []
const pools: LeanPool[] = []
afterEach(async () => {
  for (const p of pools.splice(0)) p.close()
  for (const s of servers.splice(0)) await new Promise(resolve => s.close(resolve))
})

async function serve (handler: RequestListener): Promise<URL> {
  const s = createServer(handler)
  servers.push(s)
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const a = s.address()
  if (a === null || typeof a === 'string') throw new Error('no port')
  return new URL(`http://127.0.0.1:${a.port}/records/t?x=1`)
}

function echo (): RequestListener {
  return (req, res) => {
    const parts: Buffer[] = []
    req.on('data', (c: Buffer) => parts.push(c))
    req.on('end', () => {
      const body = Buffer.concat(parts).toString()
      const text = JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, auth: req.headers.authorization, body })
      res.statusCode = body === 'bad' ? 422 : 202
      if (body.startsWith('chunked')) { res.write(text.slice(0, 5)); res.write('x'.repeat(100_000)); res.end(text.slice(5)) } else res.end(text)
    })
  }
}

describe('bench lean HTTP client', () => {
  it('sends the prepared request and reads Content-Length and chunked bodies over one kept-alive connection', async () => {
    const url = await serve(echo())
    const pool = new LeanPool()
    pools.push(pool)
    const [conn] = await pool.ready(url, 1)
    if (conn === undefined) throw new Error('no connection')
    const headers = { Authorization: 'Bearer tok', 'Content-Type': 'application/json' }
    const a = await pool.send(url, conn, prepareRequest(url, 'POST', headers, '[{"é":1}]'))
    expect(a.reply.status).toBe(202)
    expect(JSON.parse(a.reply.body.toString())).toEqual({ method: 'POST', url: '/records/t?x=1', host: url.host, auth: 'Bearer tok', body: '[{"é":1}]' })
    const b = await pool.send(url, conn, prepareRequest(url, 'POST', headers, 'chunked please'))
    expect(b.conn).toBe(conn)
    const text = b.reply.body.toString()
    expect(text.length).toBe(100_000 + JSON.stringify({ method: 'POST', url: '/records/t?x=1', host: url.host, auth: 'Bearer tok', body: 'chunked please' }).length)
    const c = await pool.send(url, conn, prepareRequest(url, 'POST', headers, 'bad'))
    expect(c.reply.status).toBe(422)
    expect(c.conn).toBe(conn)
  })

  it('replaces a connection the server closed while it was idle', async () => {
    const url = await serve(echo())
    servers[0]!.keepAliveTimeout = 50
    const pool = new LeanPool()
    pools.push(pool)
    const [conn] = await pool.ready(url, 1)
    if (conn === undefined) throw new Error('no connection')
    await pool.send(url, conn, prepareRequest(url, 'POST', {}, 'one'))
    await expect.poll(() => conn.usable, { timeout: 10_000 }).toBe(false) // node:http closes idle sockets about 1 s after keepAliveTimeout
    const [fresh] = await pool.ready(url, 1)
    expect(fresh).not.toBe(conn)
    const r = await pool.send(url, fresh!, prepareRequest(url, 'POST', {}, 'two'))
    expect(r.reply.status).toBe(202)
  })

  it('fails loudly on a body delimited by the connection close', async () => {
    const url = await serve(() => {})
    servers[0]!.removeAllListeners('connection')
    servers[0]!.on('connection', sock => { sock.once('data', () => { sock.end('HTTP/1.1 202 Accepted\r\nConnection: close\r\n\r\nbody') }) })
    const pool = new LeanPool()
    pools.push(pool)
    const [conn] = await pool.ready(url, 1)
    await expect(pool.send(url, conn!, prepareRequest(url, 'POST', {}, 'x'))).rejects.toThrow(/neither Content-Length nor chunked/)
  })
})
