import { join } from 'node:path'
import type { Command } from 'commander'
import type { SigningKey } from '../../crypto/index.js'
import type { PetalNode } from '../../node/index.js'
import type { CliContext } from '../context.js'
import { intOption, secondsOption } from '../args.js'
import { UsageError } from '../output.js'
import type { Action } from '../program.js'
import { initFromTemplate } from './init.js'
import { addHttpOptions, httpOptions, type HttpFlags } from './http-options.js'
import { addNetworkOptions, networkOptions, nodeSigningKey, roleLine, type NetworkFlags } from './network-options.js'
import { printStatus } from './status.js'
import { shellWord } from '../../util/index.js'

/** Print the node's status and, each on a line of its own, its full listen addresses. */
export function printNodeReady (ctx: CliContext, node: PetalNode, roleText: string, signingKey: SigningKey | undefined): void {
  const listen = node.listenAddrs()
  const http = node.httpUrl
  printStatus(ctx, node.chain, { node: { running: true, ...node.state(), http: http ?? null } }, [
    `node        ${roleText}, peer id ${node.peerId}`,
    listen.length > 0
      ? 'listening on (give one of these to other nodes as --bootstrap, or to `petal pull`):'
      : 'listening on nothing: outbound connections only'
  ])
  if (!ctx.out.json) ctx.out.stdout(listen.map(a => a + '\n').join(''))
  if (!ctx.out.json && http !== undefined) ctx.out.stdout(`Explorer (open in a browser: docs/explorer.md) and HTTP API (under /api/v1: docs/api.md):\n${http}\n`)
  // Next steps, on stderr so that stdout stays status + addresses for scripts.
  const d = ctx.opts.dir !== undefined ? `--dir ${shellWord(ctx.opts.dir)} ` : ''
  // A follower cannot seal: its next step to publishing is a key the signatories add (user47: it
  // was shown signimportblock and append, which fail there with NO_KEYS or INGEST_NO_KEY).
  const publish = node.role === 'signatory'
    ? [`  npx petal ${d}signimportblock my-data.db   # seal an SQLite file into the next block; the node announces it`,
        `  npx petal ${d}append readings rows.csv     # store records (CSV, NDJSON, JSON); the node seals them into a block`]
    : [signingKey === undefined
        // A node takes its key at its start: one made while it runs is not used until it restarts.
        ? `  npx petal ${d}keygen                      # a key for this node, used from its next start: to publish, a signatory adds it (petal signkey)`
        : `  npx petal ${d}mykeys                      # this node's key: to publish, a signatory adds it (petal signkey)`]
  ctx.out.note([
    '',
    'While it runs, from another terminal:',
    ...publish,
    `  npx petal ${d}query "SELECT * FROM _blocks" # SQL over every block`,
    `  npx petal ${d}status                        # tip, signatories, peers, sync state`,
    `  npx petal ${d}verify                        # re-check every hash and signature`,
    ...(http === undefined ? [] : [`  curl ${http}api/v1/status   # the same over HTTP (docs/api.md)`]),
    'Press Ctrl-C to stop.',
    ''
  ].join('\n'))
}

/** Block until SIGINT/SIGTERM. */
export async function untilStopped (ctx: CliContext): Promise<void> {
  if (ctx.signal.aborted) return
  await new Promise<void>(resolve => { ctx.signal.addEventListener('abort', () => { resolve() }, { once: true }) })
}

const UNITS: Record<string, number> = { '': 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3 }

/** A size in bytes: 1048576, 1MiB, 16MB, 512k. */
export const byteSize = (flag: string) => (v: string): number => {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v)
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()]
  const n = m === null || unit === undefined ? NaN : Math.round(Number(m[1]) * unit)
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag} must be a size in bytes, not ${JSON.stringify(v)}`, 'e.g. 1048576, 512KiB, 16MiB or 1GB')
  return n
}

interface SealFlags { sealEvery?: number, sealRows?: number, sealBytes?: number }

export function register (program: Command, action: Action): void {
  addHttpOptions(addNetworkOptions(program.command('run')
    .description('run a node: find peers, sync, serve blocks and announce new ones, serve the HTTP API; a signatory re-seals its orphaned blocks and seals pending records (`petal append`, the HTTP API) into blocks')
    .option('--init', 'create the default local chain (genesis/local.json) first if the data directory has none')
    .option('--seal-every <seconds>', 'seal pending records once the oldest has waited this long (default 5; 0: at once)', secondsOption('--seal-every', 86_400))
    .option('--seal-rows <n>', 'also seal as soon as this many records are pending', intOption('--seal-rows', { min: 1 }))
    .option('--seal-bytes <size>', 'also seal as soon as this many bytes of records are pending (e.g. 16MiB)', byteSize('--seal-bytes'))
    .option('--witness <name>', 'cosign, with your key (--key), every final signed checkpoint that extends the last one cosigned, under this witness name (e.g. example.org/witness); docs/proofs.md')))
    .action(action(async (ctx, o: NetworkFlags & HttpFlags & SealFlags & { init?: boolean, witness?: string }) => {
      const http = httpOptions(o)
      const network = await networkOptions(o)
      const { PetalNode } = await import('../../node/index.js')
      if (o.init === true) await initFromTemplate(ctx, join(ctx.io.packageRoot, 'genesis', 'local.json'))
      // A witness cosigns with its key: an encrypted one without its passphrase is an error (its
      // hint: the passphrase), not a follower's run that then says to create a key (session 51).
      const key = o.witness !== undefined && ctx.keystore().list().length > 0 ? ctx.loadKey() : nodeSigningKey(ctx)
      if (o.witness !== undefined && (key === undefined || !/^[\x21-\x7e]+$/.test(o.witness) || o.witness.includes('+'))) {
        throw new UsageError(key === undefined ? '--witness needs a key to cosign with' : `--witness ${JSON.stringify(o.witness)} is not a note key name (printable ASCII, no spaces or "+")`,
          key === undefined ? 'create one with `petal keygen` (a key that is not a signatory), or choose one with --key' : 'e.g. --witness example.org/witness')
      }
      const witness = o.witness === undefined || key === undefined ? undefined : { name: o.witness, key }
      const node = await PetalNode.create({
        dir: ctx.dir,
        signingKey: key,
        witness,
        logger: ctx.logger,
        network,
        http,
        ingest: { ...(o.sealEvery === undefined ? {} : { everyMs: o.sealEvery }), rows: o.sealRows, bytes: o.sealBytes }
      })
      ctx.onClose(async () => { await node.stop() })
      await node.start()
      printNodeReady(ctx, node, roleLine(node.role, key), key)
      if (witness !== undefined) {
        const { witnessKeyOf } = await import('../../proof/index.js')
        const vkey = await witnessKeyOf(witness)
        ctx.out.note(`witness ${witness.name}: verifiers demand its cosignature with  petal verify-proof … --witness ${vkey}`)
        // On their node: the command names no --dir (docs/proofs.md, "Which cosignatures a node keeps").
        ctx.out.note(`other nodes keep and pass on its cosignatures once their operators list it with \`petal witnesses add ${vkey}\` on their node`)
      }
      await untilStopped(ctx)
      ctx.out.note('stopping…')
    }, 'info'))
}
