// The HTTP API benchmark's client for POST turns: HTTP/1.1 over one kept-alive TCP socket
// (TCP_NODELAY) per simulated client, one request in flight per socket, the request's bytes made
// before the clock starts. The reference it is compared with has no client at all, so the client
// should cost as little as an honest HTTP/1.1 client can: node:http's request objects, header
// serialisation, agent pool and stream parsing were a measurable part of a lone client's round trip
// (docs/ingest.md, "Costs"). The parser reads exactly what the servers under test send (status
// line, headers, a Content-Length or chunked body) and fails loudly on anything else.
import { connect, type Socket } from 'node:net'

export interface Reply { status: number, body: Buffer }

/** A request's bytes, whole: request line, Host, the given headers, Content-Length, body. */
export function prepareRequest (url: URL, method: string, headers: Record<string, string>, body: string): Buffer {
  const bytes = Buffer.from(body, 'utf8')
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`
  head += `Content-Length: ${bytes.length}\r\n\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes])
}

interface Head { status: number, length?: number, chunked: boolean, close: boolean }
interface Pending { resolve: (r: Reply) => void, reject: (e: Error) => void, head?: Head }

const EMPTY = Buffer.alloc(0)
const MAX_HEAD = 64 * 1024

function parseHead (text: string): Head {
  const lines = text.split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '')
  if (m === null) throw new Error(`bad status line ${JSON.stringify(lines[0])}`)
  const status = Number(m[1])
  if (status < 200) throw new Error(`unexpected interim response ${status}`)
  let length: number | undefined
  let chunked = false
  let close = false
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) throw new Error(`bad header line ${JSON.stringify(line)}`)
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (name === 'content-length') {
      if (!/^\d+$/.test(value) || (length !== undefined && length !== Number(value))) throw new Error(`bad Content-Length ${JSON.stringify(value)}`)
      length = Number(value)
    } else if (name === 'transfer-encoding') {
      if (value.toLowerCase() !== 'chunked') throw new Error(`unsupported Transfer-Encoding ${JSON.stringify(value)}`)
      chunked = true
    } else if (name === 'connection') {
      close = value.toLowerCase().split(',').some(t => t.trim() === 'close')
    }
  }
  if (chunked && length !== undefined) throw new Error('both Content-Length and chunked')
  if (!chunked && length === undefined) throw new Error('neither Content-Length nor chunked (a body delimited by the connection\'s close is not supported)')
  return { status, length, chunked, close }
}

/** A chunked body at the start of `buf`: the body and where it ends, or undefined while incomplete. */
function parseChunked (buf: Buffer): { body: Buffer, end: number } | undefined {
  const parts: Buffer[] = []
  let off = 0
  for (;;) {
    const eol = buf.indexOf('\r\n', off, 'latin1')
    if (eol < 0) return undefined
    const sizeText = buf.toString('latin1', off, eol).split(';')[0]?.trim() ?? ''
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new Error(`bad chunk size ${JSON.stringify(sizeText)}`)
    const size = parseInt(sizeText, 16)
    const data = eol + 2
    if (size === 0) {
      // Trailers (none expected) end with an empty line.
      if (buf.length < data + 2) return undefined
      if (buf[data] === 13 && buf[data + 1] === 10) return { body: Buffer.concat(parts), end: data + 2 }
      const end = buf.indexOf('\r\n\r\n', data, 'latin1')
      return end < 0 ? undefined : { body: Buffer.concat(parts), end: end + 4 }
    }
    if (buf.length < data + size + 2) return undefined
    if (buf[data + size] !== 13 || buf[data + size + 1] !== 10) throw new Error('chunk not followed by CRLF')
    parts.push(buf.subarray(data, data + size))
    off = data + size + 2
  }
}

/** One kept-alive HTTP/1.1 connection, one request at a time. */
export class LeanConnection {
  private buf: Buffer = EMPTY
  private pending: Pending | undefined
  private closed = false
  private answered = 0

  private constructor (private readonly socket: Socket) {
    socket.setNoDelay(true)
    socket.on('data', (c: Buffer) => { this.onData(c) })
    socket.on('error', (err: Error) => { this.fail(err) })
    socket.on('close', () => { this.closed = true; this.fail(new Error('connection closed by the server')) })
  }

  static async open (host: string, port: number): Promise<LeanConnection> {
    return await new Promise((resolve, reject) => {
      const s = connect({ host, port, noDelay: true })
      s.once('connect', () => { s.off('error', reject); resolve(new LeanConnection(s)) })
      s.once('error', reject)
    })
  }

  /** False once the server closed it (its keep-alive timeout) or it failed. */
  get usable (): boolean { return !this.closed && !this.socket.destroyed }

  /** Sends a prepared request; resolves with the response. */
  async send (request: Buffer): Promise<Reply> {
    if (this.pending !== undefined) throw new Error('a request is already in flight on this connection')
    if (!this.usable) throw new Error('connection closed')
    return await new Promise((resolve, reject) => {
      this.pending = { resolve, reject }
      this.answered = 0
      this.socket.write(request)
    })
  }

  /** Bytes of the last request's response received (0: the server never answered it). */
  get received (): number { return this.answered }

  close (): void { this.closed = true; this.socket.destroy() }

  private onData (c: Buffer): void {
    const p = this.pending
    if (p === undefined) { this.fail(new Error(`${c.length} bytes from the server with no request in flight`)); return }
    this.answered += c.length
    this.buf = this.buf.length === 0 ? c : Buffer.concat([this.buf, c])
    try {
      if (p.head === undefined) {
        const end = this.buf.indexOf('\r\n\r\n', 0, 'latin1')
        if (end < 0) {
          if (this.buf.length > MAX_HEAD) throw new Error('response head over 64 KiB')
          return
        }
        p.head = parseHead(this.buf.toString('latin1', 0, end))
        this.buf = this.buf.subarray(end + 4)
      }
      const h = p.head
      let body: Buffer
      let end: number
      if (h.chunked) {
        const c = parseChunked(this.buf)
        if (c === undefined) return
        ;({ body, end } = c)
      } else {
        const n = h.length ?? 0
        if (this.buf.length < n) return
        body = this.buf.subarray(0, n)
        end = n
      }
      if (this.buf.length > end) throw new Error(`${this.buf.length - end} bytes after the response`)
      this.buf = EMPTY
      this.pending = undefined
      if (h.close) this.close()
      p.resolve({ status: h.status, body })
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)))
    }
  }

  private fail (err: Error): void {
    const p = this.pending
    this.pending = undefined
    this.buf = EMPTY
    if (p === undefined) return // idle: a closed connection is replaced before the next turn
    this.close()
    p.reject(err)
  }
}

/** Kept-alive connections per origin, reused across turns like an agent's. */
export class LeanPool {
  private readonly byOrigin = new Map<string, LeanConnection[]>()

  /** At least `n` usable connections to `url`'s origin, opened now (before a turn's clock starts). */
  async ready (url: URL, n: number): Promise<LeanConnection[]> {
    const list = (this.byOrigin.get(url.origin) ?? []).filter(c => c.usable)
    while (list.length < n) list.push(await LeanConnection.open(url.hostname, Number(url.port)))
    this.byOrigin.set(url.origin, list)
    return list.slice(0, n)
  }

  /**
   * One request on `conn`. A kept-alive connection the server closed while it sat idle, before any
   * byte of the answer came back, is replaced and the request sent again (the API closes idle
   * connections after 5 s, which a reference turn can outlast on a loaded machine).
   */
  async send (url: URL, conn: LeanConnection, request: Buffer): Promise<{ reply: Reply, conn: LeanConnection }> {
    try {
      return { reply: await conn.send(request), conn }
    } catch (err) {
      if (conn.usable || conn.received > 0) throw err
      const fresh = await LeanConnection.open(url.hostname, Number(url.port))
      this.byOrigin.get(url.origin)?.push(fresh)
      return { reply: await fresh.send(request), conn: fresh }
    }
  }

  close (): void {
    for (const list of this.byOrigin.values()) for (const c of list) c.close()
    this.byOrigin.clear()
  }
}
