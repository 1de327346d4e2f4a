import type { Command } from 'commander'
import type { CliContext } from '../context.js'
import { table, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { waitForOther } from '../lock-wait.js'
import type { ListedWitness } from '../../proof/index.js'
import { hintWithDir } from '../../util/index.js'

// `petal witnesses`: the data directory's `witnesses` file, whose witnesses' cosignatures this node
// keeps, serves and proves with (docs/proofs.md, "Which cosignatures a node keeps"). A node running
// here reads the file again whenever it changes: no restart.

/** The chain's directory (not a typo'd path), and the key this node has cosigned with as a witness, if it has. */
async function ownWitness (ctx: CliContext): Promise<string | undefined> {
  const chain = ctx.openChain({ forReading: true })
  const { OWN_WITNESS_META } = await import('../../proof/index.js')
  return chain.index.getMeta(OWN_WITNESS_META)
}

/** A listed witness as `--json` gives it. */
const json = (w: ListedWitness): { name: string, key_id: string, vkey: string, line: number } => ({ name: w.name, key_id: w.keyId, vkey: w.vkey, line: w.line })

const RUNNING = 'a node running on this data directory takes the change at once (it reads the file again when it changes)'

/** How an edit waits for another one (witnesses.lock). */
const editOptions = (ctx: CliContext): ReturnType<typeof waitForOther> => waitForOther(ctx, 'another `petal witnesses` edit')

export function register (program: Command, action: Action): void {
  const witnesses = program.command('witnesses').description('the witnesses whose cosignatures this node keeps, serves and proves with (the data directory\'s `witnesses` file)')

  witnesses.command('list').description('list the witnesses the file lists, in its order')
    .action(action(async ctx => {
      const own = await ownWitness(ctx)
      const { listWitnesses, witnessResets } = await import('../../proof/index.js')
      const list = listWitnesses(ctx.dir)
      const resets = witnessResets(ctx.openChain({ forReading: true }))
      ctx.out.result({ witnesses: list.map(json), own: own ?? null, resets: resets.map(r => ({ ...r, notes: undefined })) }, () => [
        list.length === 0
          ? hintWithDir('no witness is listed: this node keeps no witness\'s cosignature' + (own === undefined ? '' : ' but its own') + '. List one with `petal witnesses add VKEY` (the witness\'s verifier key, as `petal run --witness` on their node prints it)', ctx.opts.dir)
          : table([['NAME', 'KEY ID', 'LINE'], ...list.map(w => [w.name, w.keyId, String(w.line)])]),
        ...(own === undefined ? [] : [`and this node's own cosignatures, as the witness it has cosigned as (petal run --witness): ${own}`]),
        ...resets.map(r => `reset at ${r.at}: retired ${r.retired ?? 'the key that cosigned'} (it cosigned size ${r.abandoned.size}, a tree this chain left); cosigns with ${r.next_key} since`)
      ].join('\n'))
    }))

  witnesses.command('add <vkey>').description('list a witness by its verifier key (name+keyid+key, as `petal run --witness` or `petal checkpoint --witness-vkey` prints it)')
    .action(action(async (ctx, vkey: string) => {
      await ownWitness(ctx)
      const { addWitness } = await import('../../proof/index.js')
      const w = await addWitness(ctx.dir, vkey, editOptions(ctx))
      if (typeof w === 'string') {
        throw new UsageError(`not a witness's verifier key: ${w}`, 'give the key whole, as its operator prints it with `petal checkpoint --witness-vkey NAME` on their node (name+keyid+key)')
      }
      ctx.out.result({ added: json(w) }, () => `listed witness ${w.name} (key ID ${w.keyId}) at line ${w.line}`)
      ctx.out.note(RUNNING)
    }))

  witnesses.command('remove <name>').description('strike a witness (by name, or its whole verifier key): its cosignatures are no more proven with, served nor passed on (those stored stay, and count again if it is listed again)')
    .action(action(async (ctx, name: string) => {
      await ownWitness(ctx)
      const { removeWitness } = await import('../../proof/index.js')
      const gone = await removeWitness(ctx.dir, name, editOptions(ctx))
      ctx.out.result({ removed: gone.map(json) }, () => gone.map(w => `struck witness ${w.name} (key ID ${w.keyId}, line ${w.line})`).join('\n'))
      ctx.out.note(RUNNING)
    }))

  witnesses.command('reset').description('let this node\'s witness cosign again when its chain left the last checkpoint it cosigned: retires the key that cosigned it (choose a new one with --key) and records what it cosigned (docs/proofs.md)')
    .action(action(async ctx => {
      const key = ctx.loadKey()
      const chain = ctx.openChain()
      const { resetWitness, witnessVkeySync } = await import('../../proof/index.js')
      const resets = await resetWitness(chain, key.publicKey)
      // One entry a key retired (since session 57: chain.db keeps one record a key).
      const named = resets.map(r => r.retired).find(v => v !== null)
      const name = named?.slice(0, named.indexOf('+'))
      const vkey = name === undefined ? undefined : witnessVkeySync(name, key.publicKey)
      const [first] = resets
      ctx.out.result({ reset: first === undefined ? null : { ...first, notes: first.notes.length }, resets: resets.map(r => ({ ...r, notes: r.notes.length })), vkey: vkey ?? null }, () => [
        ...resets.map(r => `retired ${r.retired ?? 'the key that cosigned'}: it cosigned size ${r.abandoned.size} (root ${r.abandoned.root}), which this chain no longer contains; recorded in chain.db and in witness-resets.json (which outlives chain.db) with ${r.notes.length === 1 ? 'its cosigned note' : `${r.notes.length} cosigned notes of trees this chain left`} (\`petal witnesses list\` shows it)`),
        `the witness cosigns this chain's next final checkpoint with ${key.id}: ${hintWithDir(`\`petal run --witness ${name ?? 'NAME'} --key ${key.id}\``, ctx.opts.dir)}`,
        ...(vkey === undefined ? [] : [`its verifier key is new: ${vkey} (verifiers give it to \`petal verify-proof --witness\`; nodes that listed the old one: \`petal witnesses remove ${name ?? 'NAME'}\`, then \`petal witnesses add ${vkey}\`)`])
      ].join('\n'))
    }))
}
