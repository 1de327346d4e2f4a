// What the HTTP API benchmark's two processes share: one request over a kept-alive connection, and
// the rows it posts (generated alike in the client, which sends them, and in the bench, which
// INSERTs them into the reference file).
import { Agent, request } from 'node:http'
import { errorCode } from '../src/util/index.js'

export const agent = new Agent({ keepAlive: true, maxSockets: 16 })

/** One request over a kept-alive connection; resolves with the status and the number of body bytes (or the body). */
export async function call (url: string, o: { method?: string, headers?: Record<string, string>, body?: string, keep?: boolean } = {}): Promise<{ status: number, bytes: number, text: string }> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'GET', headers: o.headers, agent }, res => {
      let bytes = 0
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => { bytes += c.length; if (o.keep === true) parts.push(c) })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, bytes, text: Buffer.concat(parts).toString() }) })
      res.on('error', reject)
    })
    req.on('error', err => {
      // A kept-alive socket the server closed while it sat idle (its keep-alive timeout, 5 s, can
      // pass while a reference runs on a loaded machine): the request never reached the server,
      // so it is sent again on a new connection (the pattern of Node's http docs, reusedSocket).
      if (req.reusedSocket && (errorCode(err) === 'ECONNRESET' || errorCode(err) === 'EPIPE')) call(url, o).then(resolve, reject)
      else reject(err)
    })
    req.end(o.body)
  })
}

export type Reading = [sensor: string, at: number, value: number, note: string]

/** Row `i` of the benchmark's feed (about 90 bytes of JSON). */
export function reading (i: number): Reading {
  return [`sensor-${i % 97}`, 1_700_000_000 + i, Number((i * 0.25).toFixed(2)), `reading number ${i} of the benchmark`]
}

/** Rows `from` … `from + n - 1` as a JSON array of objects. */
export function rowsJson (n: number, from: number): string {
  const parts: string[] = []
  for (let i = from; i < from + n; i++) parts.push(`{"sensor":"sensor-${i % 97}","at":${1_700_000_000 + i},"value":${(i * 0.25).toFixed(2)},"note":"reading number ${i} of the benchmark"}`)
  return '[' + parts.join(',') + ']'
}
