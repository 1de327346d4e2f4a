import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { createChain } from '../../chain/index.js'
import { parseNewChainInput } from '../../storage/index.js'
import type { CliContext } from '../context.js'
import type { Action } from '../program.js'
import { printStatus } from './status.js'

/** Load --key / the default key, generating a first key when the keystore is empty. */
export function keyForNewChain (ctx: CliContext): ReturnType<CliContext['loadKey']> {
  const ks = ctx.keystore()
  if (ks.list().length === 0) {
    const e = ks.generate({ passphrase: ctx.passphrase() })
    ctx.out.note(`generated signing key ${e.id}${e.encrypted ? ' (encrypted)' : ''}`)
  }
  return ctx.loadKey()
}

/** `petal init`: create a chain from a template if the data directory has none (idempotent). */
export async function initFromTemplate (ctx: CliContext, template: string): Promise<boolean> {
  if (existsSync(ctx.dataDir.chainParams)) return false
  const input = parseNewChainInput(readFileSync(template, 'utf8'))
  const key = keyForNewChain(ctx)
  const chain = await createChain(ctx.dir, input, key, { logger: ctx.logger })
  chain.close()
  ctx.out.note(`created a new chain in ${ctx.dir} with ${key.id} as its signatory`)
  return true
}

export function register (program: Command, action: Action): void {
  program.command('init').description('create a local chain from a template (genesis/local.json) if the data directory has none, then show its status')
    .option('--template <file>', 'chain parameters template')
    .action(action(async (ctx, o: { template?: string }) => {
      const created = await initFromTemplate(ctx, o.template ?? join(ctx.io.packageRoot, 'genesis', 'local.json'))
      printStatus(ctx, ctx.openChain())
      if (!ctx.out.json) {
        const p = ctx.opts.dir !== undefined ? `--dir ${ctx.opts.dir} ` : ''
        ctx.out.stdout([
          '',
          created ? 'Next, try:' : 'Try:',
          `  npx petal ${p}signimportblock my-data.db      # seal an SQLite file into the next block`,
          `  npx petal ${p}blocks                          # list blocks`,
          `  npx petal ${p}verify                          # re-check every hash and signature`,
          `  npx petal ${p}mykeys                          # your keys and whether they are signatories`,
          ''
        ].join('\n'))
      }
    }))
}
