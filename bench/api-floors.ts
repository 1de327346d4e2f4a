// The HTTP API bench's floors (bench/api.bench.ts, bench/api-cost.ts): node:http servers that read
// each request's body and answer 202, with nothing done (the HTTP floor) or once the rows are in
// an fsync'd SQLite transaction (the durable floor).
import type Database from 'better-sqlite3'
import { createServer, type Server } from 'node:http'

/**
 * A server that reads each request's body and answers 202: with nothing done (the HTTP floor), or
 * once `store` has stored the body (the durable floor).
 */
export async function floorServer (store?: (body: Buffer) => void): Promise<{ url: string, server: Server }> {
  const server = createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (c: Buffer) => { if (store !== undefined) parts.push(c) })
    req.on('end', () => {
      try {
        store?.(Buffer.concat(parts))
        res.writeHead(202, { 'content-type': 'application/json' })
        res.end('{"receipts":[]}')
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(String(err))
      }
    })
  })
  server.keepAliveTimeout = 120_000 // as the API's: the agent's kept-alive sockets must not be cut between turns
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const a = server.address()
  if (a === null || typeof a === 'string') throw new Error('no port')
  return { url: `http://127.0.0.1:${a.port}/`, server }
}

/**
 * The durable floor on `db`: WAL + synchronous=FULL like the reference, one transaction per
 * request, its rows bound by name from the parsed JSON.
 */
export async function durableFloor (db: Database.Database): Promise<{ url: string, server: Server }> {
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE readings (sensor TEXT, at INTEGER, value REAL, note TEXT)')
  const ins = db.prepare('INSERT INTO readings (sensor, at, value, note) VALUES (@sensor, @at, @value, @note)')
  const tx = db.transaction((rows: Array<Record<string, unknown>>) => { for (const r of rows) ins.run(r) })
  return await floorServer(body => { tx(JSON.parse(body.toString('utf8')) as Array<Record<string, unknown>>) })
}
