import type { Command } from 'commander'
import { ChainError } from '../../chain/index.js'
import { heightOption } from '../args.js'
import { short, table } from '../output.js'
import type { Action } from '../program.js'

/** It reads a Daisy directory too, whose derived state is brought up to date before it runs. */
export { refreshDaisy } from '../hashing.js'

export function register (program: Command, action: Action): void {
  program.command('signers').description('the signatory set at the tip, or after any block (--height), with the heights that added and revoked each key')
    .option('--height <h>', 'after this block (default: the tip)', heightOption('--height'))
    .action(action(async (ctx, o: { height?: number }) => {
      const chain = ctx.openChain({ forReading: true })
      const at = o.height === undefined ? chain.tip() : chain.get(o.height)
      if (at === undefined) throw new ChainError('BLOCK_NOT_FOUND', `no block at height ${String(o.height)}`, { hint: `the tip is at height ${chain.tip().height}` })
      const signers = chain.keysAt(at).all()
      ctx.out.result({ height: at.height, signers: signers.map(s => ({ id: s.keyId, public_key: s.publicKey.hex, added_at: s.addedAt, revoked_at: s.revokedAt })) }, () => [
        `signatories after block ${at.height}: ${signers.filter(s => s.revokedAt === null).length} active`,
        table([['KEY', 'ADDED AT', 'REVOKED AT'], ...signers.map(s => [short(s.keyId, 20), String(s.addedAt), s.revokedAt === null ? '-' : String(s.revokedAt)])])
      ].join('\n'))
    }))
}
