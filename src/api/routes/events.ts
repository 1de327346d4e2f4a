import { ApiError } from '../errors.js'
import { tipEvent } from '../events.js'
import { writeError } from '../http-errors.js'
import type { RouteSpec } from '../route.js'
import { errorResponse } from '../schemas.js'

export const eventsRoutes: RouteSpec[] = [{
  method: 'GET',
  path: '/api/v1/events',
  operationId: 'events',
  summary: 'Server-sent events: tip, reorg, sealed',
  description: 'A text/event-stream. On connect the current tip comes as a `tip` event; then `tip` ({height, hash, timestamp, signer}) whenever the canonical tip changes, `reorg` ({from, to, fork, depth}) before the `tip` of a branch switch, and `sealed` ({height, hash, rows, receipts}) when this node has sealed pending rows into a canonical block. A comment line is sent as a heartbeat every 15 s. A client that reads too slowly to keep up is disconnected (reconnect and read the tip).',
  access: 'read',
  responses: {
    200: { description: 'an endless event stream', content: { 'text/event-stream': { type: 'string' } } },
    429: errorResponse('too many event streams open (API_BUSY)')
  },
  handler: async (req, reply, ctx) => {
    const res = reply.hijack().raw
    if (ctx.events.clients >= ctx.limits.eventClients) {
      writeError(res, new ApiError('API_BUSY', `${ctx.limits.eventClients} event streams are open`, { hint: 'retry later, or close other streams' }))
      return
    }
    const head = { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' }
    // HEAD: the head alone. node:http drops a HEAD response's writes, so the stream below never
    // sent its head and the client waited, holding one of the event streams (http35).
    if (req.method === 'HEAD') { res.writeHead(200, head); res.end(); return }
    res.writeHead(200, head)
    const send = (text: string): void => {
      if (res.destroyed) return
      res.write(text)
      // A client that does not read would make us buffer without bound: drop it.
      if (res.writableLength > ctx.limits.eventBufferBytes) { ctx.logger.debug('dropping a slow event client'); res.destroy() }
    }
    // The watcher's tip, brought up to date first: the index's own (`ctx.chain.tip()`) could be
    // ahead of it, and the watcher's catching up then came to this stream as a second `tip` of
    // the same block, or a `reorg` from a tip it never had (mend31).
    send(`retry: 3000\n\nevent: tip\ndata: ${JSON.stringify(tipEvent(ctx.streamTip()))}\n\n`)
    const unsubscribe = ctx.events.subscribe(e => { send(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`) })
    const heartbeat = setInterval(() => { send(': heartbeat\n\n') }, ctx.limits.heartbeatMs)
    res.on('close', () => {
      clearInterval(heartbeat)
      unsubscribe()
    })
  }
}]
