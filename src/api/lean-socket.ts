import { maxHeaderSize, STATUS_CODES, type Server } from 'node:http'
import type { Socket } from 'node:net'
import { PREFIX, type LeanLane, type LeanWriter } from './lean-records.js'

// The lean lane's strict HTTP/1.1 reader, in front of node:http (docs/performance/ingest.md, "Session
// 19: ingest"): node:http's per-request machinery (parser callbacks, IncomingMessage and
// ServerResponse, header objects, the response's header building) cost a lone request ~35–50 µs
// of CPU that this reader does not. It reads a connection's requests itself only while each is
// exactly the lane's shape; at the first request that is not (or a head split across reads), that
// request's bytes and the rest of the connection go to node:http untouched, so every other
// answer and refusal stays node's and Fastify's.

/** Head bytes the reader takes (node:http's limit is 16 KiB; larger heads are node's to refuse). */
const MAX_HEAD = 8192
/** Header lines the reader takes. */
const MAX_LINES = 64
/**
 * A header line it takes: a token name, a colon, a value of printable ASCII and tabs (trimmed
 * after). No obs-fold, bare CR or LF, control byte or non-ASCII. Linear: no nested quantifiers.
 */
const LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):([\t\x20-\x7e]*)$/
const DIGITS = /^[0-9]{1,10}$/
const SUFFIX = ' HTTP/1.1'
/** What node:http adds to its keep-alive timer over the advertised timeout (HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER). */
const KEEP_ALIVE_GRACE = 1000

/** The Date header as node:http writes it, cached for the second as node's utcDate does. */
let dateCache = ''
function utcDate (): string {
  if (dateCache === '') {
    const d = new Date()
    dateCache = d.toUTCString()
    setTimeout(() => { dateCache = '' }, 1000 - d.getMilliseconds()).unref()
  }
  return dateCache
}

/** A request of the lane's shape, parsed from its head. */
interface Head { table: string, url: string, format: 'json' | 'ndjson' | 'csv', length: number, close: boolean }

/**
 * Parses the head `text` (without its final CRLF CRLF): the request when it is exactly the lane's
 * shape (`POST /api/v1/records/{table} HTTP/1.1`, one Host, one Content-Type, one Content-Length of
 * digits, at most one Authorization, Connection keep-alive or close, no Transfer-Encoding, Expect
 * or Upgrade, every line strict) and the lane takes it; otherwise undefined (node:http's to read).
 */
export function parseHead (text: string, lane: LeanLane): Head | undefined {
  let eol = text.indexOf('\r\n')
  if (eol < 0) return undefined
  const first = text.slice(0, eol)
  if (!first.startsWith('POST ' + PREFIX) || !first.endsWith(SUFFIX)) return undefined
  const url = first.slice(5, first.length - SUFFIX.length)
  let host: string | undefined
  let authorization: string | undefined
  let type: string | undefined
  let length: string | undefined
  let connection: string | undefined
  let lines = 0
  for (let at = eol + 2; at <= text.length; at = eol + 2) {
    eol = text.indexOf('\r\n', at)
    if (eol < 0) eol = text.length
    const m = LINE.exec(text.slice(at, eol))
    if (m === null || ++lines > MAX_LINES) return undefined
    const value = (m[2] as string).trim() // only blanks and tabs can be at its ends here
    switch ((m[1] as string).toLowerCase()) {
      case 'host': if (host !== undefined) return undefined; host = value; break
      case 'authorization': if (authorization !== undefined) return undefined; authorization = value; break
      case 'content-type': if (type !== undefined) return undefined; type = value; break
      case 'content-length': if (length !== undefined) return undefined; length = value; break
      case 'connection': if (connection !== undefined) return undefined; connection = value.toLowerCase(); break
      case 'transfer-encoding': case 'expect': case 'upgrade': case 'content-encoding': return undefined
    }
  }
  if (host === undefined || length === undefined || !DIGITS.test(length) || (connection !== undefined && connection !== 'keep-alive' && connection !== 'close')) return undefined
  const n = Number(length)
  const taken = lane.takes(url, type, n, authorization === undefined ? { host } : { host, authorization })
  // Every field named, not `{ ...taken, … }`: an object made by spreading gets a map V8 cannot
  // cache stores to, so each field's definition and every later read of the head went through the
  // runtime (~10 k instructions a request; docs/performance/ingest.md, "Session 21: ingest").
  return taken === undefined ? undefined : { table: taken.table, format: taken.format, url, length: n, close: connection === 'close' }
}

type ConnectionListener = (socket: Socket) => void

/**
 * Puts the reader in front of `server`'s own 'connection' listeners (node:http's), which get every
 * connection the reader hands over. Returns `close`: the reader's idle connections are closed at
 * once (node:http's closeAllConnections does not see them), busy ones after their answer.
 */
export function leanSocket (server: Server, lane: LeanLane): { close: () => void } {
  const nodeListeners = server.listeners('connection') as ConnectionListener[]
  server.removeAllListeners('connection')
  const open = new Set<LeanConnection>()
  const handOff = (socket: Socket): void => { for (const l of nodeListeners) l.call(server, socket) }
  server.on('connection', (socket: Socket) => {
    // A server whose answers node:http shapes otherwise (a request count per socket) or whose
    // parser takes less than the reader does (a smaller head, fewer header lines) is node's.
    if (lane.closing || (server.maxRequestsPerSocket ?? 0) > 0 || ((server as { maxHeaderSize?: number }).maxHeaderSize ?? maxHeaderSize) < MAX_HEAD + 4 || (server.maxHeadersCount ?? MAX_LINES) < MAX_LINES) { handOff(socket); return }
    const c = new LeanConnection(socket, server, lane, handOff, open)
    open.add(c)
  })
  return { close: () => { for (const c of open) c.closing() } }
}

/** One connection while the reader has it. */
class LeanConnection {
  /** Bytes read and not yet answered, from the start of the next request. */
  private parts: Buffer[] = []
  private size = 0
  /** The request whose body is awaited, where its body starts, and the end of that body. */
  private head: Head | undefined
  private bodyAt = 0
  private need = 0
  private started = 0
  private busy = false
  /** An answer waits in the socket's buffer for a client that does not read: nothing more is read. */
  private blocked = false
  /** The socket's timeout is the keep-alive one (node:http's keepAliveTimeoutSet). */
  private keepAlive = false
  private ended = false
  private done = false
  /** The first head's deadline, then a body's (node:http's headersTimeout, requestTimeout). */
  private timer: NodeJS.Timeout | undefined
  private readonly onData = (c: Buffer): void => { this.data(c) }
  private readonly onEnd = (): void => { this.end() }
  private readonly onError = (): void => { this.socket.destroy() }
  private readonly onClose = (): void => { this.release() }
  /** Whether the request in flight asked for Connection: close (one request at a time is answered). */
  private closeAfter = false
  /** The lane's writer, made once per connection (a closure made per request costs a named function's defineProperty in the bundles: lean-records.ts, LeanReply). */
  private readonly writer: LeanWriter = {
    answer: (status, pairs, b) => { this.answer(status, pairs, b, this.closeAfter) },
    broken: () => { this.socket.destroy() }
  }
  private readonly onDrain = (): void => { this.blocked = false; this.after() }
  /** node:http's socketOnTimeout: the server's 'timeout' listeners, or else the connection goes without a word. */
  private readonly onTimeout = (): void => { if (!this.server.emit('timeout', this.socket)) this.socket.destroy() }

  constructor (
    private readonly socket: Socket,
    private readonly server: Server,
    private readonly lane: LeanLane,
    private readonly handOff: (socket: Socket) => void,
    private readonly open: Set<LeanConnection>
  ) {
    socket.on('data', this.onData)
    socket.on('end', this.onEnd)
    socket.on('error', this.onError)
    socket.on('close', this.onClose)
    // node:http's idle timeout (server.timeout, Fastify's connectionTimeout): no byte either way
    // for that long, and the connection goes, whatever else is pending.
    socket.on('timeout', this.onTimeout)
    if (server.timeout > 0) socket.setTimeout(server.timeout)
    // node:http refuses a connection whose first head is not in by headersTimeout with a 408.
    this.arm(server.headersTimeout)
  }

  /** The server closes: an idle connection goes now, a busy one after its answer. */
  closing (): void {
    if (!this.busy) this.socket.destroy()
  }

  private data (c: Buffer): void {
    if (this.done) return
    this.parts.push(c)
    this.size += c.length
    if (this.busy || this.blocked) {
      // Pipelined bytes wait for the answer in flight; a client that floods is paused.
      if (this.size > this.lane.bodyLimit + MAX_HEAD) this.socket.pause()
      return
    }
    if (this.head !== undefined && this.size < this.need) return
    this.next()
  }

  /** Reads the next request from the bytes read: answers it, waits for its body, or hands over. */
  private next (): void {
    if (this.size === 0) return
    const buf = this.parts.length === 1 ? this.parts[0] as Buffer : Buffer.concat(this.parts, this.size)
    this.parts = [buf]
    let head = this.head
    if (head === undefined) {
      const end = buf.indexOf('\r\n\r\n')
      // A head not whole in what has come (or larger than the reader takes) is node's from here.
      if (end < 0 || end > MAX_HEAD) { this.giveAway(); return }
      head = this.lane.closing ? undefined : parseHead(buf.toString('latin1', 0, end), this.lane)
      if (head === undefined) { this.giveAway(); return }
      this.disarm()
      // As node:http's parserOnIncoming: a request in, the idle timeout again instead of the keep-alive one.
      if (this.keepAlive) { this.keepAlive = false; this.socket.setTimeout(this.server.timeout || 0) }
      this.started = performance.now()
      this.bodyAt = end + 4
      this.need = this.bodyAt + head.length
      if (buf.length < this.need) {
        // node:http's requestTimeout: the whole request within it.
        this.head = head
        // A client that half-closed sends no more: node:http's EOF refusal, not a wait.
        if (this.ended) { this.clientError('HPE_INVALID_EOF_STATE'); return }
        this.arm(this.server.requestTimeout)
        return
      }
    } else {
      this.disarm()
      this.head = undefined
    }
    const need = this.need
    const body = buf.subarray(this.bodyAt, need)
    if (buf.length > need) { this.parts = [buf.subarray(need)]; this.size = buf.length - need } else { this.parts = []; this.size = 0 }
    this.busy = true
    this.closeAfter = head.close
    this.lane.append(head.table, head.url, body, head.format, this.started, this.writer)
  }

  /** Writes an answer with the bytes node:http's writeHead and end would send. */
  private answer (status: number, pairs: string[], body: string | Buffer, close: boolean): void {
    this.busy = false
    const socket = this.socket
    if (socket.destroyed) return
    let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`
    for (let i = 0; i < pairs.length; i += 2) text += `${pairs[i] as string}: ${pairs[i + 1] as string}\r\n`
    const keep = !close && !this.lane.closing
    const ka = this.server.keepAliveTimeout
    text += `Date: ${utcDate()}\r\nConnection: ${keep ? 'keep-alive' : 'close'}\r\n${keep && ka > 0 ? `Keep-Alive: timeout=${Math.floor(ka / 1000)}\r\n` : ''}\r\n`
    if (typeof body === 'string') socket.write(text + body)
    else { socket.cork(); socket.write(text, 'latin1'); socket.write(body); socket.uncork() }
    if (!keep) { this.release(); socket.end(); return }
    if (socket.writableNeedDrain) {
      // A client that does not read its answers: read nothing more until it has (node:http pauses
      // such a client alike), or its pipelined requests' answers would pile up here without bound.
      this.blocked = true
      socket.pause()
      socket.once('drain', this.onDrain)
      return
    }
    this.after()
  }

  /** After an answer has gone out: the next request read, the end after a half-close, or the keep-alive wait. */
  private after (): void {
    const socket = this.socket
    if (this.done || socket.destroyed) return
    if (socket.isPaused()) socket.resume()
    // Requests read before a half-close are still answered, in order; then the connection ends.
    if (this.size > 0) { this.next(); return }
    if (this.ended) { this.release(); socket.end(); return }
    // node:http's keep-alive timeout (none when 0): an idle connection is closed without a word.
    const ka = this.server.keepAliveTimeout
    if (ka > 0 && !this.keepAlive) { this.keepAlive = true; socket.setTimeout(ka + KEEP_ALIVE_GRACE) }
  }

  /** The client finished sending: an idle connection is ended, a busy one after its answer. */
  private end (): void {
    this.ended = true
    if (this.busy || this.blocked || this.done) return
    if (this.size > 0) { this.clientError('HPE_INVALID_EOF_STATE'); return }
    this.release()
    this.socket.end()
  }

  private arm (ms: number): void {
    this.disarm()
    if (ms > 0) this.timer = setTimeout(() => { this.clientError('ERR_HTTP_REQUEST_TIMEOUT') }, ms).unref()
  }

  private disarm (): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
  }

  /** What node:http does with such an error: the server's 'clientError' listener answers it. */
  private clientError (code: string): void {
    this.release()
    const err = Object.assign(new Error(code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'Request timeout' : 'Parse Error'), { code })
    if (this.server.listenerCount('clientError') > 0) this.server.emit('clientError', err, this.socket)
    else this.socket.destroy()
  }

  /** Hands the connection, with the bytes read and not answered first, to node:http. */
  private giveAway (): void {
    const buf = this.size === 0 ? undefined : this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.size)
    this.release()
    const socket = this.socket
    socket.off('data', this.onData)
    socket.off('end', this.onEnd)
    socket.off('error', this.onError)
    socket.off('close', this.onClose)
    socket.off('drain', this.onDrain)
    socket.off('timeout', this.onTimeout)
    // node:http sets its own idle timeout only when the server has one: none of the reader's stays.
    socket.setTimeout(0)
    this.handOff(socket)
    if (this.ended) {
      // The stream's 'end' has gone by (unshift would now fail): node:http gets the bytes and the
      // end as the stream would have given them.
      if (buf !== undefined) socket.emit('data', buf)
      socket.emit('end')
      return
    }
    // After node's 'data' listener is on: in flowing mode unshift hands the bytes to it at once.
    if (buf !== undefined) socket.unshift(buf)
    if (socket.isPaused()) socket.resume()
  }

  /** The reader lets go of the connection: no more timers, not counted as its own. */
  private release (): void {
    if (this.done) return
    this.done = true
    this.disarm()
    this.parts = []
    this.size = 0
    this.head = undefined
    this.open.delete(this)
  }
}
