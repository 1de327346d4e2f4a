import { join } from 'node:path'
import type { Command } from 'commander'
import type { PetalNode } from '../../node/index.js'
import type { CliContext } from '../context.js'
import type { Action } from '../program.js'
import { initFromTemplate } from './init.js'
import { addHttpOptions, httpOptions, type HttpFlags } from './http-options.js'
import { addNetworkOptions, networkOptions, nodeSigningKey, roleLine, type NetworkFlags } from './network-options.js'
import { printStatus } from './status.js'

/** Print the node's status and, each on a line of its own, its full listen addresses. */
export function printNodeReady (ctx: CliContext, node: PetalNode, roleText: string): void {
  const listen = node.listenAddrs()
  const http = node.httpUrl
  printStatus(ctx, node.chain, { node: { running: true, ...node.state(), http: http ?? null } }, [
    `node        ${roleText}, peer id ${node.peerId}`,
    listen.length > 0
      ? 'listening on (give one of these to other nodes as --bootstrap, or to `petal pull`):'
      : 'listening on nothing: outbound connections only'
  ])
  if (!ctx.out.json) ctx.out.stdout(listen.map(a => a + '\n').join(''))
  if (!ctx.out.json && http !== undefined) ctx.out.stdout(`HTTP API and explorer (open in a browser; the API is under /api/v1):\n${http}\n`)
  // Next steps, on stderr so that stdout stays status + addresses for scripts.
  const d = ctx.opts.dir !== undefined ? `--dir ${ctx.opts.dir} ` : ''
  ctx.out.note([
    '',
    'While it runs, from another terminal:',
    `  npx petal ${d}signimportblock my-data.db   # seal an SQLite file into the next block; the node announces it`,
    `  npx petal ${d}query "SELECT * FROM _blocks" # SQL over every block`,
    `  npx petal ${d}status                        # tip, signatories, peers, sync state`,
    `  npx petal ${d}verify                        # re-check every hash and signature`,
    ...(http === undefined ? [] : [`  curl ${http}api/v1/status          # the same over HTTP (docs/api.md)`]),
    'Press Ctrl-C to stop.',
    ''
  ].join('\n'))
}

/** Block until SIGINT/SIGTERM. */
export async function untilStopped (ctx: CliContext): Promise<void> {
  if (ctx.signal.aborted) return
  await new Promise<void>(resolve => { ctx.signal.addEventListener('abort', () => { resolve() }, { once: true }) })
}

export function register (program: Command, action: Action): void {
  addHttpOptions(addNetworkOptions(program.command('run')
    .description('run a node: find peers, sync, serve blocks and announce new ones, serve the HTTP API; a signatory re-seals its orphaned blocks')
    .option('--init', 'create the default local chain (genesis/local.json) first if the data directory has none')))
    .action(action(async (ctx, o: NetworkFlags & HttpFlags & { init?: boolean }) => {
      const http = httpOptions(o)
      const network = await networkOptions(o)
      const { PetalNode } = await import('../../node/index.js')
      if (o.init === true) await initFromTemplate(ctx, join(ctx.io.packageRoot, 'genesis', 'local.json'))
      const key = nodeSigningKey(ctx)
      const node = await PetalNode.create({ dir: ctx.dir, signingKey: key, logger: ctx.logger, network, http })
      ctx.onClose(async () => { await node.stop() })
      await node.start()
      printNodeReady(ctx, node, roleLine(node.role, key))
      await untilStopped(ctx)
      ctx.out.note('stopping…')
    }, 'info'))
}
