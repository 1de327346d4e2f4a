import type { Command } from 'commander'
import type { Chain } from '../../chain/index.js'
import type { StoredCheckpoint } from '../../proof/index.js'
import { heightOption } from '../args.js'
import type { CliContext } from '../context.js'
import { table, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { openChain } from '../hashing.js'
import { checkpointAudience } from '../checkpoint-audience.js'

// `petal checkpoint`: the signed checkpoints this data directory keeps (docs/proofs.md). A
// checkpoint file is what a client keeps, and trusts later with `verify-proof --trust`.

interface Options { height?: number, final?: boolean, sign?: boolean, list?: boolean, out?: string, witnessVkey?: string }

function view (chain: Chain, c: StoredCheckpoint): Record<string, unknown> {
  return {
    size: c.size, root: c.root, tip: c.tip, final: c.checkpoint.final, last_height: c.size - 1,
    current_tip: chain.tip().height, source: c.source, received_at: new Date(c.receivedAt).toISOString(), note: c.note
  }
}

export function register (program: Command, action: Action): void {
  program.command('checkpoint')
    .description('print (or export with -o) the latest signed checkpoint of the chain tree; --sign makes one with your signatory key')
    .option('--height <h>', 'the checkpoint whose last block is at this height (tree size h + 1)', heightOption('--height'))
    .option('--final', 'the latest final checkpoint (its blocks at least max_reorg_depth below the signer\'s tip)')
    .option('--sign', 'first sign the checkpoints of the current tip with your signing key (a signatory\'s)')
    .option('--list', 'list the stored checkpoints of the current chain')
    .option('-o, --out <file>', 'write the signed note to this file (for `verify-proof --trust` or `prove --consistency`)')
    .option('--witness-vkey <name>', 'print the verifier key of your key (--key) as the witness NAME (`petal run --witness NAME`), for `verify-proof --witness`')
    .action(action(async (ctx: CliContext, o: Options) => {
      if (o.witnessVkey !== undefined) {
        const { witnessKeyOf } = await import('../../proof/index.js')
        const vkey = await witnessKeyOf({ name: o.witnessVkey, key: ctx.loadKey() })
        ctx.out.result({ witness: o.witnessVkey, vkey }, () => vkey)
        return
      }
      const chain = openChain(ctx, { forReading: o.sign !== true })
      const p = await import('../../proof/index.js')
      if (o.sign === true) {
        const key = ctx.loadKey()
        if (!chain.keysAt(chain.tip()).isActive(key.id)) {
          throw new UsageError(`key ${key.id} is not an active signatory of this chain: its checkpoint would convince no one`, 'choose a signatory key with --key (`petal signers` lists them)')
        }
        const notes = await p.signTipCheckpoints(chain, key, { signal: ctx.signal })
        ctx.out.note(notes.length === 0 ? 'the checkpoints of this tip were already signed by this key' : `signed ${notes.length} checkpoint(s) of tip ${chain.tip().height}`)
      }
      if (o.list === true) {
        const all = chain.index.checkpoints.list({ limit: 1000 })
        const tree = p.storedChainTree(chain)
        const rows = all.map(r => {
          const { checkpoint: c } = p.readCheckpointNote(r.note)
          const current = r.size <= tree.size && Buffer.from(p.treeRoot(tree, r.size)).toString('hex') === r.root
          // The lines this node stands behind now, as a proof carries them (a struck witness's stay stored, unused).
          return { size: r.size, tip: r.tip, final: c.final, current, source: r.source, signatures: p.verifiedNote(chain, r.note)?.lines.length ?? 0 }
        })
        ctx.out.result(rows, () => rows.length === 0 ? 'no checkpoints stored' : table([
          ['size', 'signer tip', 'final', 'current chain', 'signatures', 'source'],
          ...rows.map(r => [String(r.size), String(r.tip), r.final ? 'yes' : 'no', r.current ? 'yes' : 'no (abandoned branch)', String(r.signatures), r.source])
        ]))
        return
      }
      const c = o.height === undefined
        ? p.findCheckpoint(chain, { final: o.final === true }) ?? p.checkpointForHeight(chain, chain.tip().height, o.final === true, asked => p.noCheckpointHint(checkpointAudience(ctx, chain), asked))
        : p.findCheckpoint(chain, { size: o.height + 1, final: o.final === true })
      if (c === undefined) {
        throw new p.ProofError('PROOF_NO_CHECKPOINT', `no signed checkpoint${o.final === true ? ' (final)' : ''} of the current chain ends at height ${o.height ?? ''}`, {
          hint: o.height === undefined ? '`petal checkpoint --list` shows the stored ones' : p.missingSizeHint(checkpointAudience(ctx, chain), o.height + 1), details: { height: o.height, final: o.final === true }
        })
      }
      if (o.out !== undefined) {
        await ctx.writeOutputFile(o.out, c.note, 'choose a path in a directory you can write')
        ctx.out.result({ ...view(chain, c), file: o.out }, () => `wrote the checkpoint of size ${c.size} (heights 0…${c.size - 1}, ${c.checkpoint.final ? 'final' : 'not final'}) to ${o.out ?? ''}`)
        return
      }
      ctx.out.result(view(chain, c), () => c.note.trimEnd())
    }))
}
