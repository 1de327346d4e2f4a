// The client of the HTTP API benchmark (bench/api.bench.ts), in its own process, driven over IPC:
// the server's figures must not include a client that shares its event loop and its thread.
// Each command times its own requests; the IPC round trip is outside every figure.
import { agent, call, rowsJson } from './api-http.js'
import { LeanPool, prepareRequest } from './lean-http.js'

type Msg = { id: number, cmd: 'post', url: string, headers: Record<string, string>, batch: number, requests: number, from: number, clients: number }
  | { id: number, cmd: 'get', url: string, bytes: number }
  | { id: number, cmd: 'query', url: string, body: string }
  | { id: number, cmd: 'exit' }

const send = (m: Record<string, unknown>): void => { process.send?.(m) }
const bodies = new Map<string, string[]>()
const pool = new LeanPool()
// POST turns go through the lean HTTP/1.1 client (bench/lean-http.ts); PETAL_BENCH_CLIENT=node-http
// sends them through node:http instead, to measure what that client costs.
const viaNodeHttp = process.env.PETAL_BENCH_CLIENT === 'node-http'

async function handle (m: Msg): Promise<Record<string, unknown>> {
  switch (m.cmd) {
    case 'post': {
      // The bodies are made before the clock starts, once per (from, batch, requests): the HTTP
      // turn and the floor's turn post the same bytes.
      const key = `${m.from}:${m.batch}:${m.requests}`
      let list = bodies.get(key)
      if (list === undefined) {
        bodies.clear()
        list = Array.from({ length: m.requests }, (_, r) => rowsJson(m.batch, m.from + r * m.batch))
        bodies.set(key, list)
      }
      const all = list
      if (viaNodeHttp) {
        const started = performance.now()
        let i = 0
        await Promise.all(Array.from({ length: m.clients }, async () => {
          while (i < all.length) {
            const body = all[i++]
            const r = await call(m.url, { method: 'POST', headers: m.headers, body, keep: true }).catch((err: unknown) => { throw new Error(`POST ${m.url} (batch ${m.batch}, ${m.clients} clients): ${String(err)}`) })
            if (r.status !== 202) throw new Error(`POST ${m.url}: ${r.status} ${r.text.slice(0, 300)}`)
          }
        }))
        return { ms: performance.now() - started }
      }
      // Before the clock: each request's bytes, and one open connection per client.
      const url = new URL(m.url)
      const requests = all.map(body => prepareRequest(url, 'POST', m.headers, body))
      const conns = await pool.ready(url, m.clients)
      const started = performance.now()
      let i = 0
      await Promise.all(conns.map(async first => {
        let conn = first
        while (i < requests.length) {
          const request = requests[i++] as Buffer
          const sent = await pool.send(url, conn, request).catch((err: unknown) => { throw new Error(`POST ${m.url} (batch ${m.batch}, ${m.clients} clients): ${String(err)}`) })
          conn = sent.conn
          if (sent.reply.status !== 202) throw new Error(`POST ${m.url}: ${sent.reply.status} ${sent.reply.body.toString('utf8', 0, 300)}`)
        }
      }))
      return { ms: performance.now() - started }
    }
    case 'get': {
      const s = performance.now()
      const r = await call(m.url)
      if (r.bytes !== m.bytes) throw new Error(`got ${r.bytes} of ${m.bytes} bytes`)
      return { ms: performance.now() - s }
    }
    case 'query': {
      const s = performance.now()
      const r = await call(m.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: m.body, keep: true })
      return { ms: performance.now() - s, text: r.text }
    }
    case 'exit':
      agent.destroy()
      pool.close()
      process.disconnect()
      return {}
  }
}

process.on('message', (m: Msg) => {
  handle(m).then(r => { if (m.cmd !== 'exit') send({ id: m.id, ...r }) }, (err: unknown) => { send({ id: m.id, error: err instanceof Error ? err.message : String(err) }) })
})
