import { join } from 'node:path'
import type { Command } from 'commander'
import type { PetalNode } from '../../node/index.js'
import type { CliContext } from '../context.js'
import type { Action } from '../program.js'
import { initFromTemplate } from './init.js'
import { addNetworkOptions, networkOptions, nodeSigningKey, roleLine, type NetworkFlags } from './network-options.js'
import { printStatus } from './status.js'

/** Print the node's status and, each on a line of its own, its full listen addresses. */
export function printNodeReady (ctx: CliContext, node: PetalNode, roleText: string): void {
  const listen = node.listenAddrs()
  printStatus(ctx, node.chain, { node: { running: true, ...node.state() } }, [
    `node        ${roleText}, peer id ${node.peerId}`,
    listen.length > 0
      ? 'listening on (give one of these to other nodes as --bootstrap, or to `petal pull`):'
      : 'listening on nothing: outbound connections only'
  ])
  if (!ctx.out.json) ctx.out.stdout(listen.map(a => a + '\n').join(''))
  // Next steps, on stderr so that stdout stays status + addresses for scripts.
  const d = ctx.opts.dir !== undefined ? `--dir ${ctx.opts.dir} ` : ''
  ctx.out.note([
    '',
    'While it runs, from another terminal:',
    `  npx petal ${d}signimportblock my-data.db   # seal an SQLite file into the next block; the node announces it`,
    `  npx petal ${d}query "SELECT * FROM _blocks" # SQL over every block`,
    `  npx petal ${d}status                        # tip, signatories, peers, sync state`,
    `  npx petal ${d}verify                        # re-check every hash and signature`,
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
  addNetworkOptions(program.command('run')
    .description('run a node: find peers, sync, serve blocks and announce new ones; a signatory re-seals its orphaned blocks')
    .option('--init', 'create the default local chain (genesis/local.json) first if the data directory has none'))
    .action(action(async (ctx, o: NetworkFlags & { init?: boolean }) => {
      const network = await networkOptions(o)
      const { PetalNode } = await import('../../node/index.js')
      if (o.init === true) await initFromTemplate(ctx, join(ctx.io.packageRoot, 'genesis', 'local.json'))
      const key = nodeSigningKey(ctx)
      const node = await PetalNode.create({ dir: ctx.dir, signingKey: key, logger: ctx.logger, network })
      ctx.onClose(async () => { await node.stop() })
      await node.start()
      printNodeReady(ctx, node, roleLine(node.role, key))
      await untilStopped(ctx)
      ctx.out.note('stopping…')
    }, 'info'))
}
