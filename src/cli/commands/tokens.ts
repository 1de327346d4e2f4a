import { Option, type Command } from 'commander'
import { TOKEN_SCOPES, TokenStore, withTokensLock, type TokenScope } from '../../api/index.js'
import { table } from '../output.js'
import type { Action } from '../program.js'
import type { CliContext } from '../context.js'
import { openChain } from '../hashing.js'
import { waitForOther } from '../lock-wait.js'
import { hintWithDir, shellWord } from '../../util/index.js'

/** How a create or revoke waits for another one (tokens.lock). */
const lockOptions = (ctx: CliContext): ReturnType<typeof waitForOther> => waitForOther(ctx, 'another `petal tokens` command')

export function register (program: Command, action: Action): void {
  const tokens = program.command('tokens').description('bearer tokens of the HTTP API: writes always need one; reads too on a node exposed with --http-expose')

  tokens.command('create')
    .description('create a token; it is printed once and only its hash is stored (a running node accepts it at once)')
    .addOption(new Option('--scope <scope>', 'read: GET endpoints and POST /query; write: also POST /records and PUT /tables').choices([...TOKEN_SCOPES]).default('write'))
    .option('--name <name>', 'a name to recognise it by in `tokens list` (default: token-XXXX)')
    .action(action(async (ctx, o: { scope: TokenScope, name?: string }) => {
      openChain(ctx, { forReading: true }) // a data directory with a chain, not a typo'd path
      const { token, info } = await withTokensLock(ctx.dir, () => TokenStore.of(ctx.dir).create({ scope: o.scope, name: o.name }), lockOptions(ctx))
      ctx.out.result({ token, ...info }, () => token)
      // Its command names the user's --dir, as hints do: run as printed, it revokes this directory's token.
      // By id where the name would not do: `-x` is taken for an option, a backtick or a line break
      // cuts the command's span (review34).
      const ref = /^-|[`\r\n]/.test(info.name) ? info.id : shellWord(info.name)
      ctx.out.note(hintWithDir(`token ${info.id} (${info.name}, ${info.scope}): shown once, keep it secret. Use it as\n  Authorization: Bearer <token>\nRevoke it with \`petal tokens revoke ${ref}\`.`, ctx.opts.dir))
    }))

  tokens.command('list')
    .description('list the tokens (never their secret part)')
    .action(action(async ctx => {
      openChain(ctx, { forReading: true })
      const list = TokenStore.of(ctx.dir).list()
      if (ctx.out.json) { ctx.out.result({ tokens: list }, () => ''); return }
      ctx.out.result(null, () => list.length === 0
        ? hintWithDir('no tokens (create one with `petal tokens create`)', ctx.opts.dir)
        : table([['ID', 'NAME', 'SCOPE', 'CREATED'], ...list.map(t => [t.id, t.name, t.scope, t.created_at])]))
    }))

  tokens.command('revoke <id-or-name>')
    .description('revoke a token by id or name (a running node refuses it at once)')
    .action(action(async (ctx, ref: string) => {
      openChain(ctx, { forReading: true })
      const t = await withTokensLock(ctx.dir, () => TokenStore.of(ctx.dir).revoke(ref), lockOptions(ctx))
      ctx.out.result({ revoked: t }, () => `revoked token ${t.id} (${t.name}, ${t.scope})`)
    }))
}
