// What node:http costs a lone single-row request (docs/performance/ingest.md, "Session 19: ingest"): the
// api bench's durable floor (bench/api-floors.ts: node:http, JSON.parse, one fsync'd INSERT
// transaction) against the same store behind a net.Server with a minimal strict HTTP/1.1 parser
// (request line, headers, Content-Length body; the same 202 bytes the floor's node:http sends,
// chunked as its writeHead makes them). One client
// process (bench/lean-http.ts), one request at a time, alternating between the two servers in
// blocks of `block` requests; this process's CPU is read at each block's edges (over IPC, outside
// the blocks), the client's latency per request.
//   node --import tsx bench/api-raw-floor.ts [blocks=20] [block=200] [warm=3000]
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { durableFloor } from './api-floors.js'

const client = process.argv[2] === 'client'
const [blocksArg = '20', blockArg = '200', warmArg = '3000'] = process.argv.slice(2)

function store (db: Database.Database): (body: Buffer) => void {
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE readings (sensor TEXT, at INTEGER, value REAL, note TEXT)')
  const ins = db.prepare('INSERT INTO readings (sensor, at, value, note) VALUES (@sensor, @at, @value, @note)')
  const tx = db.transaction((rows: Array<Record<string, unknown>>) => { for (const r of rows) ins.run(r) })
  return body => { tx(JSON.parse(body.toString('utf8')) as Array<Record<string, unknown>>) }
}

/** The Date header as node:http writes it, cached for the second (as node's utcDate does). */
let dateCache = ''
function utcDate (): string {
  if (dateCache === '') { dateCache = new Date().toUTCString(); setTimeout(() => { dateCache = '' }, 1000 - new Date().getMilliseconds()).unref() }
  return dateCache
}

/** A net.Server answering requests of exactly the bench's shape, each after `save(body)`. */
async function rawServer (save: (body: Buffer) => void): Promise<{ url: string, close: () => Promise<void> }> {
  const server = createServer({ noDelay: true }, (socket: Socket) => {
    let buf: Buffer | undefined
    let need = -1 // the whole request's length once the head is read
    let bodyAt = 0
    socket.on('data', (c: Buffer) => {
      buf = buf === undefined ? c : Buffer.concat([buf, c])
      for (;;) {
        if (need < 0) {
          const end = buf.indexOf('\r\n\r\n')
          if (end < 0) { if (buf.length > 16384) socket.destroy(); return }
          const head = buf.toString('latin1', 0, end)
          const lines = head.split('\r\n')
          if (!/^POST \/[^ ]* HTTP\/1\.1$/.test(lines[0] ?? '')) { socket.destroy(); return }
          let length = -1
          for (let i = 1; i < lines.length; i++) {
            const line = lines[i] as string
            const colon = line.indexOf(':')
            if (colon <= 0) { socket.destroy(); return }
            const name = line.slice(0, colon).toLowerCase()
            if (name === 'content-length') { if (length >= 0) { socket.destroy(); return } length = Number(line.slice(colon + 1).trim()) } else if (name === 'transfer-encoding') { socket.destroy(); return }
          }
          if (!(length >= 0)) { socket.destroy(); return }
          need = end + 4 + length
          bodyAt = end + 4
        }
        if (buf.length < need) return
        const body = buf.subarray(bodyAt, need)
        const rest: Buffer | undefined = buf.length > need ? buf.subarray(need) : undefined
        need = -1
        buf = rest
        let out: string
        try {
          save(body)
          out = `HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\nDate: ${utcDate()}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=120\r\nTransfer-Encoding: chunked\r\n\r\nf\r\n{"receipts":[]}\r\n0\r\n\r\n`
        } catch (err) {
          const t = String(err)
          out = `HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\nDate: ${utcDate()}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=120\r\nContent-Length: ${Buffer.byteLength(t)}\r\n\r\n${t}`
        }
        socket.write(out)
        if (buf === undefined) return
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const a = server.address()
  if (a === null || typeof a === 'string') throw new Error('no port')
  return { url: `http://127.0.0.1:${a.port}/`, close: async () => { await new Promise(resolve => server.close(resolve)) } }
}

if (client) {
  const { LeanConnection, prepareRequest } = await import('./lean-http.js')
  const { rowsJson } = await import('./api-http.js')
  process.once('message', (m: { urls: string[], blocks: number, block: number, warm: number }) => {
    void (async () => {
      const urls = m.urls.map(u => new URL(u))
      const conns = await Promise.all(urls.map(async u => await LeanConnection.open(u.hostname, Number(u.port))))
      const headers = { authorization: 'Bearer x', 'content-type': 'application/json' }
      let next = 0
      const one = async (k: number): Promise<number> => {
        const req = prepareRequest(urls[k] as URL, 'POST', headers, rowsJson(1, next++))
        const s = performance.now()
        const r = await conns[k]!.send(req)
        const ms = performance.now() - s
        if (r.status !== 202) throw new Error(`${r.status} ${r.body.toString()}`)
        return ms
      }
      for (let i = 0; i < m.warm; i++) for (let k = 0; k < urls.length; k++) await one(k)
      const lat: number[][] = urls.map(() => [])
      const ask = async (msg: unknown): Promise<void> => { await new Promise<void>(resolve => { process.once('message', () => { resolve() }); process.send?.(msg) }) }
      for (let b = 0; b < m.blocks; b++) {
        const order = b % 2 === 0 ? urls.map((_, k) => k) : urls.map((_, k) => k).reverse()
        for (const k of order) {
          await ask({ start: k })
          for (let i = 0; i < m.block; i++) lat[k]?.push(await one(k))
          await ask({ stop: k })
        }
      }
      process.send?.({ lat })
      for (const c of conns) c.close()
      process.disconnect()
    })()
  })
} else {
  const root = mkdtempSync(join(tmpdir(), 'petal-raw-floor-'))
  const dbA = new Database(join(root, 'node-http.db'))
  const dbB = new Database(join(root, 'raw.db'))
  const a = await durableFloor(dbA)
  const b = await rawServer(store(dbB))
  const names = ['node:http durable floor', 'net.Server raw floor']
  const cpu = names.map(() => ({ user: 0, system: 0, vcs: 0, n: 0 }))
  let at = process.resourceUsage()
  const child = fork(import.meta.filename, ['client'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const block = Number(blockArg)
  let got: (l: number[][]) => void = () => {}
  const done = new Promise<number[][]>(resolve => { got = resolve })
  child.on('message', (m: { start?: number, stop?: number, lat?: number[][] }) => {
    if (m.lat !== undefined) { got(m.lat); return }
    if (m.start !== undefined) { at = process.resourceUsage(); child.send('go'); return }
    if (m.stop !== undefined) {
      const e = process.resourceUsage()
      const c = cpu[m.stop]
      if (c !== undefined) { c.user += e.userCPUTime - at.userCPUTime; c.system += e.systemCPUTime - at.systemCPUTime; c.vcs += e.voluntaryContextSwitches - at.voluntaryContextSwitches; c.n += block }
      child.send('go')
    }
  })
  child.send({ urls: [a.url, b.url], blocks: Number(blocksArg), block, warm: Number(warmArg) })
  const lat = await done
  await new Promise(resolve => child.once('exit', resolve))
  const pct = (xs: number[], p: number): number => { const s = [...xs].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number }
  for (let k = 0; k < names.length; k++) {
    const c = cpu[k] as { user: number, system: number, vcs: number, n: number }
    const l = lat[k] ?? []
    process.stdout.write(`${names[k]}: p50 ${(pct(l, 0.5) * 1000).toFixed(1)} µs, p95 ${(pct(l, 0.95) * 1000).toFixed(1)} µs; server CPU per request ${(c.user / c.n).toFixed(1)} µs user + ${(c.system / c.n).toFixed(1)} µs system, ${(c.vcs / c.n).toFixed(2)} voluntary switches (${c.n} requests)\n`)
  }
  await new Promise(resolve => a.server.close(resolve))
  await b.close()
  dbA.close(); dbB.close()
  rmSync(root, { recursive: true, force: true })
}
