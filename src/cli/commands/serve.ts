import type { Command } from 'commander'
import { startApiServer } from '../../api/index.js'
import { UsageError } from '../output.js'
import type { Action } from '../program.js'
import { addHttpOptions, httpOptions, type HttpFlags } from './http-options.js'
import { untilStopped } from './run.js'
import { openChain } from '../hashing.js'

/** It reads a Daisy directory too, whose derived state is brought up to date before it runs. */
export { refreshDaisy } from '../hashing.js'

export function register (program: Command, action: Action): void {
  addHttpOptions(program.command('serve')
    .description('serve a data directory over HTTP, read-only, without joining the network (a pulled mirror, an archive, a Daisy directory)'))
    .action(action(async (ctx, o: HttpFlags) => {
      const http = httpOptions(o)
      if (http === undefined) throw new UsageError('serve needs an address: --http off leaves nothing to do', 'leave --http out to serve on 127.0.0.1:2018, or give --http HOST:PORT')
      openChain(ctx, { forReading: true }) // refuses a directory without a chain, with the usual hint
      // Closed after the server (closers run last registered first).
      const { ChunkPool } = await import('../../proof/index.js')
      const chunkPool = new ChunkPool()
      ctx.onClose(async () => { await chunkPool.close() })
      const server = await startApiServer({ dir: ctx.dir, ...http, chunkPool, logger: ctx.logger })
      ctx.onClose(async () => { await server.close() })
      const served = ctx.daisy?.dir ?? ctx.dir
      ctx.out.result({ http: server.url, dir: served, read_only: true, daisy: ctx.daisy }, () => `serving ${served}${ctx.daisy !== undefined ? ' (a Daisy directory, as it was when serve started)' : ''} read-only (no network)`)
      if (!ctx.out.json) ctx.out.stdout(server.url + '\n')
      ctx.out.note('Press Ctrl-C to stop.')
      await untilStopped(ctx)
      ctx.out.note('stopping…')
    }, 'info'))
}
