import type { Command } from 'commander'
import { startApiServer } from '../../api/index.js'
import { UsageError } from '../output.js'
import type { Action } from '../program.js'
import { addHttpOptions, httpOptions, type HttpFlags } from './http-options.js'
import { untilStopped } from './run.js'
import { openChain } from '../hashing.js'
import type { CliContext } from '../context.js'
import type { Chain } from '../../chain/index.js'
import { errorMessage, isPetalError } from '../../util/index.js'
import { localOrphanJudging, signingKeys } from '../orphan-judging.js'
import { short } from '../output.js'
import { checkpointAudience } from '../checkpoint-audience.js'
import { readKnownPeers } from '../../node/state-file.js'

/**
 * How the signatories add this directory's key: an endorsement by `petal signkey` adds nothing by
 * itself (it prints a file); a quorum of them, sealed with `signimportblock --keyops`, does
 * (review49: the hint ended at `signkey`, and run as printed the key stayed a follower's).
 */
const ADD_KEY = 'have the signatories add the key: with the PUBKEY `petal mykeys` prints here, enough of them (the chain\'s quorum) each endorse it with `petal signkey PUBKEY --op add -o e1.json` on their node, and one of them seals the endorsements with `petal signimportblock --keyops e1.json --keyops e2.json …` on their node'

/**
 * What a write refused by serve (API_READ_ONLY) should do instead, as this directory stands when
 * it is refused: a mirror without a key cannot become a writer by `petal run` (user47's finding;
 * the API puts --dir into the commands, hintDirOf).
 */
export function serveWriteHint (ctx: CliContext, chain: Chain): () => string {
  return () => {
    if (ctx.daisy !== undefined) return 'this is a Daisy directory, which Petal reads and never writes: send records to a signatory node of a Petal chain'
    let id: string
    try {
      id = ctx.keystore().resolve(ctx.opts.key).id
    } catch (err) {
      if (!(isPetalError(err) && err.code === 'NO_KEYS')) return 'send records to a signatory node of this chain (`petal mykeys` shows this directory\'s keys)'
      return `this directory has no signing key: it is a read-only mirror. Send records to a signatory node of this chain; to publish from here, create a key (\`petal keygen\`), ${ADD_KEY}, then run a node here (\`petal run\`)`
    }
    const tip = chain.tip()
    if (!chain.keysAt(tip).isActive(id)) {
      return `this directory's key ${short(id, 14)}… is not an active signatory at height ${tip.height}: send records to a signatory node of this chain, or ${ADD_KEY}, then run a node here (\`petal run\`)`
    }
    return `petal serve only reads; this directory's key ${short(id, 14)}… is a signatory: stop this server and run a node here (\`petal run\`), which takes records over HTTP, or store them with \`petal append TABLE FILE\` and seal them with \`petal seal\``
  }
}

/** It reads a Daisy directory too, whose derived state is brought up to date before it runs. */
export { refreshDaisy } from '../hashing.js'

export function register (program: Command, action: Action): void {
  addHttpOptions(program.command('serve')
    .description('serve a data directory over HTTP, read-only, without joining the network (a pulled mirror, an archive, a Daisy directory)'))
    .action(action(async (ctx, o: HttpFlags) => {
      const http = httpOptions(o)
      if (http === undefined) throw new UsageError('serve needs an address: --http off leaves nothing to do', 'leave --http out to serve on 127.0.0.1:2018, or give --http HOST:PORT')
      const chain = openChain(ctx, { forReading: true }) // refuses a directory without a chain, with the usual hint
      // Closed after the server (closers run last registered first).
      const { ChunkPool } = await import('../../proof/index.js')
      const chunkPool = new ChunkPool()
      ctx.onClose(async () => { await chunkPool.close() })
      // Orphans judged as `petal orphans --all` judges them, with pending.db's record of re-seals
      // (reseal49: from the chain alone, serve said back what the CLI and the node found pending).
      // A keystore that cannot be read leaves every signer judged from the chain alone; serve still serves.
      let own: string[] = []
      try { own = signingKeys(ctx) } catch (err) { ctx.logger.warn('orphans are judged from the chain alone: the keystore could not be read', { error: errorMessage(err) }) }
      // A pending.db that cannot be opened (damaged: kept for help, as status says) leaves them
      // judged from the chain alone, warned, until it can be (review50: serve exited 4; user50).
      const orphans = localOrphanJudging(ctx, chain, own, true)
      // A pulled mirror's reader is told where to get checkpoints, a signatory to sign them.
      const server = await startApiServer({ dir: ctx.dir, ...(ctx.daisy === undefined ? {} : { hintDir: ctx.daisy.dir }), ...http, chunkPool, orphans, checkpointAudience: () => checkpointAudience(ctx, chain), readOnlyHint: serveWriteHint(ctx, chain), knownPeers: () => readKnownPeers(ctx.dir), logger: ctx.logger })
      ctx.onClose(async () => { await server.close() })
      const served = ctx.daisy?.dir ?? ctx.dir
      ctx.out.result({ http: server.url, dir: served, read_only: true, daisy: ctx.daisy }, () => `serving ${served}${ctx.daisy !== undefined ? ' (a Daisy directory, as it was when serve started)' : ''} read-only (no network)`)
      if (!ctx.out.json) ctx.out.stdout(server.url + '\n')
      ctx.out.note('Press Ctrl-C to stop.')
      await untilStopped(ctx)
      ctx.out.note('stopping…')
    }, 'info'))
}
