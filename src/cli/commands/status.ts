import type { Command } from 'commander'
import { join } from 'node:path'
import { ADOPTED_HISTORY_DIR, daisyCommitmentOf, daisyWarnings, type Chain } from '../../chain/index.js'
import type { CliContext } from '../context.js'
import { formatBytes, short } from '../output.js'
import type { Action } from '../program.js'
import { networkStatus } from './network-status.js'
import { pendingStatus } from './pending-status.js'
import { hintWithDir, isPetalError, shellWord } from '../../util/index.js'

/** It reads a Daisy directory too, whose derived state is brought up to date before it runs. */
export { refreshDaisy } from '../hashing.js'

/** `petal status --json` without the node part (snake_case, as every --json output). */
export interface ChainStatus {
  dir: string
  chain_id: string
  description: string
  creator: string
  tip: { height: number, hash: string, timestamp: string, signer: string }
  blocks: number
  side_blocks: number
  signatories: { active: number, total: number }
  consensus: { quorum_rule: string, max_block_bytes: number, max_reorg_depth: number }
  my_keys: Array<{ id: string, signatory: boolean }>
  /** A keystore that cannot be read (a damaged key file): said here, and the rest of status still answers. */
  my_keys_error?: { code: string, message: string, hint?: string }
}

/** Chain status: everything here is read from the index, so it costs the same at any length. */
export function chainStatus (ctx: CliContext, chain: Chain): ChainStatus {
  const tip = chain.tip()
  const counts = chain.index.countBlocks()
  const keys = chain.keysAt(tip)
  let mine: ChainStatus['my_keys'] = []
  let keysError: ChainStatus['my_keys_error']
  try {
    mine = ctx.keystore().list().map(k => ({ id: k.id, signatory: keys.isActive(k.id) }))
  } catch (err) {
    // A damaged key file stopped status whole (user50): the chain is still shown, the file named.
    if (!isPetalError(err)) throw err
    keysError = { code: err.code, message: err.message, ...(err.hint === undefined ? {} : { hint: hintWithDir(err.hint, ctx.opts.dir) }) }
  }
  const p = chain.params
  return {
    dir: ctx.dir,
    chain_id: chain.chainId,
    description: p.description,
    creator: p.creator,
    tip: { height: tip.height, hash: tip.hash, timestamp: tip.timestamp, signer: tip.signer },
    blocks: counts.canonical,
    side_blocks: counts.side,
    signatories: { active: keys.activeCount, total: keys.all().length },
    consensus: { quorum_rule: p.quorumRule, max_block_bytes: p.maxBlockBytes, max_reorg_depth: p.maxReorgDepth },
    my_keys: mine,
    ...(keysError === undefined ? {} : { my_keys_error: keysError })
  }
}

export function printStatus (ctx: CliContext, chain: Chain, extra: Record<string, unknown> = {}, extraLines: string[] = []): void {
  const s = chainStatus(ctx, chain)
  const { tip, my_keys: mine } = s
  const p = chain.params
  ctx.out.result({ ...s, ...extra }, () => [
    `chain       ${chain.chainId}${p.description !== '' ? `  (${p.description})` : ''}`,
    `data dir    ${ctx.dir}`,
    `tip         height ${tip.height}  ${tip.hash}`,
    `            ${tip.timestamp}  signed by ${short(tip.signer)}`,
    `blocks      ${s.blocks}${s.side_blocks > 0 ? ` (+${s.side_blocks} on side branches)` : ''}`,
    `signatories ${s.signatories.active} active  (quorum rule ${p.quorumRule}, max block ${formatBytes(p.maxBlockBytes)}, max reorg depth ${p.maxReorgDepth})`,
    ...(s.my_keys_error !== undefined
      ? [`my keys     cannot read the keystore: ${s.my_keys_error.message} [${s.my_keys_error.code}]`, ...(s.my_keys_error.hint === undefined ? [] : [`            ${s.my_keys_error.hint}`])]
      : [`my keys     ${mine.length === 0 ? 'none' : mine.map(k => `${short(k.id)} ${k.signatory ? '(signatory)' : '(not a signatory)'}`).join(', ')}`]),
    ...extraLines
  ].join('\n'))
}

export function register (program: Command, action: Action): void {
  program.command('status').description('show the chain (tip, block count, signatories, your keys) and the node running on it (peers, sync)')
    .action(action(async ctx => {
      const chain = ctx.openChain({ forReading: true })
      if (ctx.daisy !== undefined) {
        const warnings = daisyWarnings(chain)
        printStatus(ctx, chain, { daisy: { dir: ctx.daisy.dir, state: ctx.daisy.state, read_only: true, warnings } }, [
          `daisy dir   ${ctx.daisy.dir}  (Daisy's format, read-only; Petal's index of it: ${ctx.daisy.state})`,
          `warnings    ${warnings.length === 0 ? 'none' : `${warnings.length} (what Daisy accepts and Petal would not; \`petal --dir ${shellWord(ctx.daisy.dir)} verify\` lists them)`}`
        ])
        return
      }
      const n = networkStatus(ctx, chain.keysAt(chain.tip()))
      // The heights a reorg can have moved, as the seal's reconcile takes them (ingest/sealer.ts).
      const pending = pendingStatus(ctx, n.state, n.stopped, hash => chain.index.byHash(hash)?.canonical === true, { height: chain.tip().height, depth: chain.params.maxReorgDepth }, n.unknown === true)
      // A chain that continues a Daisy chain says which, and where its history is.
      const c = await daisyCommitmentOf(chain, { recorded: true })
      const adopted = c === undefined ? {} : { continues_daisy: { daisy_genesis_hash: c.genesisHash, daisy_chain_params: c.chainParams, daisy_tip_height: c.tipHeight, daisy_tip_hash: c.tipHash, history: join(ctx.dir, ADOPTED_HISTORY_DIR) } }
      const lines = c === undefined ? [] : [`continues   the Daisy chain ${short(c.genesisHash)} at its block ${c.tipHeight} ${short(c.tipHash)} (history in ${join(ctx.dir, ADOPTED_HISTORY_DIR)})`]
      printStatus(ctx, chain, { ...n.extra, ...pending.extra, ...adopted }, [...lines, ...n.lines, ...pending.lines])
    }))
}
