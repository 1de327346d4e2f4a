import type { Command } from 'commander'
import type { PulledCheckpoints, PullProgress } from '../../node/index.js'
import { hintWithDir, isHash, shellWord } from '../../util/index.js'
import type { Progress } from '../progress.js'
import { formatBytes, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { addNetworkOptions, networkOptions, nodeSigningKey, roleLine, type NetworkFlags } from './network-options.js'
import { printNodeReady, untilStopped } from './run.js'
import { httpOptions, type HttpFlags } from './http-options.js'
import { syncMirrorAfterImport } from '../mirror-sync.js'
import { openChain } from '../hashing.js'
import { sizeLine } from '../pulled-sizes.js'

export function register (program: Command, action: Action): void {
  addNetworkOptions(program.command('pull <multiaddr>')
    .description('fetch a chain from a peer into an empty data directory (parameters, genesis, every block), verify it and exit; an interrupted pull resumes')
    .option('--genesis <hash>', 'refuse the chain unless its genesis hash is this')
    .option('--follow', 'keep running as a node afterwards (like `petal run`)')
    .option('--http <host:port>', 'with --follow: serve the HTTP API and explorer here, as `petal run` does (port 0: a free one; default: not at all)')
    .option('--http-expose', 'with --http: allow an address other machines can reach (reads then need a token unless --public-read)')
    .option('--public-read', 'with --http-expose: reads need no token (writes always do)')
    .option('--checkpoint-size <size>', 'also ask each peer for its signed checkpoint of this tree size (or the largest it keeps below it), one this directory lacks; repeatable', (v: string, all: string[]) => [...all, v], []), 'a one-off pull listens nowhere; with --follow, default /ip4/0.0.0.0/tcp/2017')
    .action(action(async (ctx, addr: string, o: PullFlags) => {
      const checkpointSizes = o.checkpointSize.map(v => {
        if (!/^[1-9]\d{0,14}$/.test(v)) throw new UsageError(`--checkpoint-size must be a tree size (a whole number from 1), not ${JSON.stringify(v)}`, '`petal checkpoint --list` shows the sizes stored here; a tree of size N holds heights 0…N−1')
        return Number(v)
      })
      if (o.genesis !== undefined && !isHash(o.genesis)) throw new UsageError(`--genesis must be 64 lower-case hex digits, not ${JSON.stringify(o.genesis)}`, 'give the chain id (its genesis hash), as `petal status` on the other node prints it')
      const http = pullHttp(o, ctx.opts.dir)
      // A one-off pull listens nowhere (outbound connections are enough); --follow listens like run.
      const { pull } = await import('../../node/index.js')
      const network = await networkOptions({ ...o, pullFrom: addr, bootstrap: [addr, ...o.bootstrap] }, o.follow === true ? undefined : [])
      let stage = ''
      let bar: Progress | undefined
      const onProgress = (p: PullProgress): void => {
        if (p.stage !== stage) {
          bar?.end()
          stage = p.stage
          bar = p.stage === 'contact' ? undefined : ctx.progress(p.stage === 'sync' ? 'pull' : 'verify')
          if (p.stage === 'contact') ctx.out.note(`contacting ${addr}…`)
        }
        bar?.update(p)
      }
      // A following node signs with the keystore's key once the chain makes it a signatory.
      const signingKey = o.follow === true ? nodeSigningKey(ctx) : undefined
      const r = await pull({ dir: ctx.dir, from: addr, genesis: o.genesis, follow: o.follow, signingKey, http, logger: ctx.logger, signal: ctx.signal, network, onProgress, checkpointSizes }).catch((err: unknown) => {
        // Interrupted (Ctrl-C, SIGTERM): what it fetched stays and the same command resumes it
        // (user47: it said only "petal: interrupted"), with the flags that change what it does
        // (review48: --follow was left out, and the resumed pull exited instead of following;
        // review49: the network flags and the signing key were, and it listened on 0.0.0.0:2017).
        if (ctx.signal.aborted) {
          bar?.end()
          const again = resumeCommand(addr, o, ctx.opts)
          ctx.out.note(hintWithDir(`the pull stopped; the blocks it fetched stay, and \`${again}\` resumes it`, ctx.opts.dir))
        }
        throw err
      })
      bar?.end()
      if (r.node !== undefined) { const node = r.node; ctx.onClose(async () => { await node.stop() }) }
      // A one-off pull leaves the query mirror ready, so the first query starts at once (a node
      // following the chain keeps it up to date itself).
      else await syncMirrorAfterImport(ctx, openChain(ctx), { progress: true })
      const c = r.checkpoints
      const checkpoints = { latest_size: c.latest ?? null, final_size: c.final ?? null, ...(c.sizes === undefined ? {} : { sizes: c.sizes }), kept: c.asked.reduce((n, a) => n + a.kept, 0), peers: c.asked.map(a => ({ peer: a.peer, received: a.received, kept: a.kept, accepted: a.accepted, ...(a.unsupported === true ? { unsupported: true } : {}), ...(a.error === undefined ? {} : { error: a.error }) })) }
      ctx.out.result({ chain_id: r.chainId, height: r.height, hash: r.hash, blocks: r.verify.blocks, bytes: r.verify.bytes, verified: r.verify.ok, resumed: r.resumed, checkpoints }, () =>
        `pulled chain ${r.chainId}${r.resumed ? ' (resumed)' : ''}: ${r.verify.blocks} blocks, ${formatBytes(r.verify.bytes)}, tip height ${r.height} ${r.hash}, all verified\n` +
        checkpointLine(c, r.height, ctx.opts.dir) + (c.sizes ?? []).map(z => '\n' + sizeLine(z, addr, r.height, ctx.opts.dir)).join(''))
      if (r.node !== undefined) {
        printNodeReady(ctx, r.node, roleLine(r.node.role, signingKey), signingKey)
        await untilStopped(ctx)
      }
    // A one-off pull shows its progress bar; with --follow it becomes a node and logs like `run`.
    }, opts => (opts.follow === true ? 'info' : 'warn')))
}

/**
 * What the pull holds to prove rows with: the signed checkpoints its peers sent (a reader needs
 * one to prove a row to a third party), or why there is none and what to do.
 */
function checkpointLine (c: PulledCheckpoints, tip: number, dir: string | undefined): string {
  const kept = c.asked.reduce((n, a) => n + a.kept, 0)
  const from = `${kept} new from ${c.asked.length} peer(s)`
  if (c.latest !== undefined) {
    const final = c.final === undefined ? 'none final yet' : `final up to height ${c.final - 1}`
    return `signed checkpoints: up to height ${c.latest - 1} of ${tip} (${final}); ${from}: rows can be proven (\`petal prove\`)`
  }
  const why = c.asked.map(a => a.unsupported === true
    ? `peer ${a.peer} does not serve checkpoints (a Petal before session 48)`
    : a.error !== undefined ? `peer ${a.peer}: ${a.error}` : `peer ${a.peer} keeps none of this chain`)
  return hintWithDir(`no signed checkpoint: rows cannot be proven here yet (${why.length === 0 ? 'no peer to ask' : why.join('; ')}); ` +
    'pull again from a signatory\'s node, which sends its own (`petal pull MULTIADDR`, with the address its `petal status` prints)', dir)
}

/**
 * The command that resumes an interrupted pull as it was begun: the flags that change what it does
 * (--genesis, --follow; the network flags; with --follow, the key it signs with and its passphrase
 * file). Without them a `--follow --listen /ip4/127.0.0.1/…` resumed listening on 0.0.0.0:2017, a
 * `--key` signatory with the default key, and `--no-dht` searched the DHT (review49).
 */
function resumeCommand (addr: string, o: PullFlags, g: { key?: string, passphraseFile?: string }): string {
  const words = ['petal', 'pull', addr]
  if (o.genesis !== undefined) words.push('--genesis', o.genesis)
  for (const s of o.checkpointSize) words.push('--checkpoint-size', s)
  if (o.follow === true) {
    words.push('--follow')
    if (g.key !== undefined) words.push('--key', g.key)
    if (g.passphraseFile !== undefined) words.push('--passphrase-file', g.passphraseFile)
    if (o.http !== undefined) words.push('--http', o.http)
    if (o.httpExpose === true) words.push('--http-expose')
    if (o.publicRead === true) words.push('--public-read')
  }
  for (const [flag, list] of [['--listen', o.listen], ['--announce', o.announce], ['--bootstrap', o.bootstrap]] as const) {
    for (const a of list) words.push(flag, a)
  }
  if (!o.dht) words.push('--no-dht')
  return words.map((w, i) => i === 0 ? w : shellWord(w)).join(' ')
}

type PullFlags = NetworkFlags & Partial<HttpFlags> & { genesis?: string, follow?: boolean, checkpointSize: string[] }

/**
 * The following node's HTTP API (api54): `--http` as `petal run` takes it, so a reader that pulls and
 * follows serves the explorer in the same process. Off unless given (run's default, 127.0.0.1:2018,
 * would make a pull that worked fail beside a node that serves it); a one-off pull serves nothing.
 */
function pullHttp (o: PullFlags, dir: string | undefined): ReturnType<typeof httpOptions> {
  if (o.http === undefined) {
    if (o.httpExpose === true || o.publicRead === true) throw new UsageError(`${o.httpExpose === true ? '--http-expose' : '--public-read'} applies with --http`, 'give the address to serve on, e.g. --http 0.0.0.0:2018')
    return undefined
  }
  if (o.follow !== true) throw new UsageError('--http applies with --follow: a one-off pull exits once verified, and serves nothing', hintWithDir(`add --follow to keep the node running and serve the API, or serve the pulled directory with \`petal serve --http ${shellWord(o.http)}\``, dir))
  return httpOptions({ ...o, http: o.http })
}
