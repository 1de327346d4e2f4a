// The lean lane of POST /records and its strict reader (src/api/lean-records.ts, lean-socket.ts),
// as test/integration/api-lean-records.test.ts and api-lean-reader-attack.test.ts drive them: a
// chain with an ingest service and tokens, the reader in front of a server, and raw exchanges
// over one connection.
import type { Server } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { TokenStore } from '../../src/api/index.js'
import type { leanRecords } from '../../src/api/lean-records.js'
import { leanSocket } from '../../src/api/lean-socket.js'
import { Ingest } from '../../src/ingest/index.js'
import { fixtureKey, newTestChain } from './chain.js'

/** What a test file closes after its tests, in reverse order. */
export type Cleanup = Array<() => unknown>

export interface LeanChain { dir: string, ingest: Ingest, token: string, readToken: string }

/** A new test chain of alice's with an ingest service, a write token and a read token; closed through `cleanup`. */
export async function leanChain (cleanup: Cleanup): Promise<LeanChain> {
  const alice = fixtureKey('alice')
  const t = await newTestChain({ key: alice })
  const ingest = Ingest.open({ chain: t.chain, key: alice })
  cleanup.push(() => { t.chain.close() }, async () => { await ingest.close() })
  const tokens = TokenStore.of(t.dir)
  return { dir: t.dir, ingest, token: tokens.create({ scope: 'write', name: 'w' }).token, readToken: tokens.create({ scope: 'read', name: 'r' }).token }
}

/**
 * Puts the strict reader in front of `server`, listens on a free loopback port and closes both
 * after the tests (through `cleanup`). node:http's parser refusals are answered with `status` and their codes kept.
 */
export async function listenWithReader (server: Server, lane: ReturnType<typeof leanRecords>, status: string, cleanup: Cleanup): Promise<{ port: number, clientErrors: string[] }> {
  const clientErrors: string[] = []
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => { clientErrors.push(err.code ?? ''); socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`) })
  const reader = leanSocket(server, lane.lane)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  cleanup.push(async () => { reader.close(); await new Promise(resolve => server.close(resolve)) })
  return { port: (server.address() as AddressInfo).port, clientErrors }
}

// How long an exchange waits for the server's first byte or its close before it gives up.
const NO_ANSWER_MS = 30_000

/** When an exchange's steps happened (performance.now(), this process's view). */
export interface ExchangeTimes { connected: number, firstSent: number, lastSent: number, answered?: number }

/**
 * Sends `parts` over one new connection (`gapMs` between them; `end` half-closes after the last)
 * and resolves with every byte received until the server closes, or `waitMs` after the last byte;
 * `times`, if given, is filled with when each step happened.
 * The wait starts at the first byte: every request here is answered or its connection closed, and
 * a loaded machine may do either late. (It started after the last write: a test process kept off
 * the CPU for `waitMs` ended the exchange before the server had read the request, and the server's
 * late events, a request or a parser's refusal, were counted in the next case.)
 */
export async function exchange (port: number, parts: Array<string | Buffer>, o: { gapMs?: number, end?: boolean, waitMs?: number, startMs?: number, times?: ExchangeTimes } = {}): Promise<{ text: string, closed: boolean }> {
  return await new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1')
    const got: Buffer[] = []
    const times: ExchangeTimes = o.times ?? { connected: NaN, firstSent: NaN, lastSent: NaN }
    let timer: NodeJS.Timeout | undefined
    const finish = (closed: boolean): void => { clearTimeout(timer); s.destroy(); resolve({ text: Buffer.concat(got).toString('latin1'), closed }) }
    const idle = (): void => { clearTimeout(timer); timer = setTimeout(() => { finish(false) }, got.length === 0 ? NO_ANSWER_MS : o.waitMs ?? 600) }
    s.on('data', c => { times.answered ??= performance.now(); got.push(c); idle() })
    s.on('close', () => { finish(true) })
    s.on('error', reject)
    s.on('connect', () => {
      times.connected = performance.now()
      void (async () => {
        if (o.startMs !== undefined) await new Promise(r => setTimeout(r, o.startMs))
        for (const p of parts) {
          s.write(p)
          times.lastSent = performance.now()
          if (Number.isNaN(times.firstSent)) times.firstSent = times.lastSent
          if (o.gapMs !== undefined) await new Promise(r => setTimeout(r, o.gapMs))
        }
        if (o.end === true) s.end()
        idle()
      })()
    })
  })
}

/** A request's bytes: request line, the given header lines as written, body. */
export function raw (line: string, headers: string[], body: string): string {
  return `${line}\r\n${headers.map(h => h + '\r\n').join('')}\r\n${body}`
}

/** The answers in `text`, each reduced to what two runs of one request share (no Date, no receipt ids). */
export function answers (text: string): string[] {
  return text.split(/(?=HTTP\/1\.1 )/).filter(a => a !== '').map(a => a.replace(/Date: [^\r]*/, 'Date: D').replace(/"[a-z2-7]{8}-\d+"/g, '"R"'))
}
