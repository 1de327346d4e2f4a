import { lpStream } from '@libp2p/utils'
import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import type { Logger } from '../../util/index.js'
import { TIMEOUTS } from '../constants.js'
import { NetworkError, offenceOf } from '../errors.js'
import { finish, toNetworkError } from '../rpc.js'
import type { Offence } from '../scoring.js'
import { decodeJson, encodeJson } from '../wire.js'

export interface ServeContext {
  /** Score a peer down for a protocol violation. */
  report: (peer: string, offence: Offence, detail: string) => void
  logger: Logger
}

/** Log a failed exchange with a peer, and report it when it was the peer's fault. */
export function onServeError (ctx: ServeContext, what: string, peer: string, err: unknown, stream: Stream): void {
  const e = toNetworkError(err, what, peer, false)
  // Without a timeout, only a protocol violation is an offence.
  const offence = e instanceof NetworkError ? offenceOf(e.code) : undefined
  if (offence !== undefined) {
    ctx.report(peer, offence, what)
  } else {
    ctx.logger.debug('request from peer failed', { peer, what, error: e.message })
  }
  finish(stream, e)
}

/**
 * A request/response handler: read one JSON request frame of at most `requestLimit` bytes within
 * the server timeout, answer with one JSON frame, close. Peer data is decoded strictly; a bad
 * request scores the peer down.
 */
export function jsonHandler (what: string, requestLimit: number, ctx: ServeContext,
  respond: (req: Record<string, unknown>) => unknown): StreamHandler {
  return async (stream: Stream, connection: Connection) => {
    const peer = connection.remotePeer.toString()
    try {
      const lp = lpStream(stream, { maxDataLength: requestLimit })
      const signal = AbortSignal.timeout(TIMEOUTS.serverRequest)
      const req = decodeJson((await lp.read({ signal })).subarray(), requestLimit, `${what} request`)
      const reply: unknown = await respond(req)
      await lp.write(encodeJson(reply), { signal: AbortSignal.timeout(TIMEOUTS.serverStall) })
      finish(stream)
    } catch (err) {
      onServeError(ctx, `${what} request`, peer, err, stream)
    }
  }
}
