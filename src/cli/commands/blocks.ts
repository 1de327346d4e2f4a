import type { Command } from 'commander'
import { blockDescription, ChainError, resealDescription } from '../../chain/index.js'
import { escapeControls } from '../../query/index.js'
import type { BlockRecord } from '../../storage/index.js'
import { checkHeightRange, heightOption, intOption } from '../args.js'
import { formatBytes, short, table } from '../output.js'
import type { Action } from '../program.js'

/** It reads a Daisy directory too, whose derived state is brought up to date before it runs. */
export { refreshDaisy } from '../hashing.js'

function blockJson (b: BlockRecord): Record<string, unknown> {
  return { height: b.height, hash: b.hash, parent: b.parent, canonical: b.canonical, timestamp: b.timestamp, signer: b.signer, size: b.size, key_ops: b.keyOpCount, rows_root: b.rowsRoot, seal: b.seal, version: b.version }
}

export function register (program: Command, action: Action): void {
  program.command('blocks').description('list canonical blocks, newest first')
    .option('--from <height>', 'start at this height', heightOption('--from'))
    .option('-n, --limit <n>', 'how many blocks (at least 1)', intOption('--limit', { min: 1 }), 20)
    .option('--asc', 'oldest first')
    .action(action(async (ctx, o: { from?: number, limit: number, asc?: boolean }) => {
      const chain = ctx.openChain({ forReading: true })
      const tip = chain.tip()
      checkHeightRange(o.from, undefined, tip.height)
      const rows = o.asc === true
        ? chain.index.range(o.from ?? 0, tip.height, o.limit)
        : chain.index.range(Math.max(0, (o.from ?? tip.height) - o.limit + 1), o.from ?? tip.height, o.limit).reverse()
      if (ctx.out.json) { for (const b of rows) ctx.out.result(blockJson(b), () => ''); return }
      const tables = (b: BlockRecord): string => String(chain.index.tablesOf(b.hash).length)
      ctx.out.result(null, () => table([
        ['HEIGHT', 'HASH', 'TIME', 'SIGNER', 'SIZE', 'TABLES', 'KEYOPS'],
        ...rows.map(b => [String(b.height), short(b.hash), b.timestamp.replace('T', ' ').replace(/\.\d+Z$|Z$/, ''), short(b.signer), formatBytes(b.size), tables(b), String(b.keyOpCount)])
      ]))
    }))

  program.command('block <ref>').description('show one block by height, hash or hash prefix: header, signer, tables with row counts, key operations')
    .action(action(async (ctx, ref: string) => {
      const chain = ctx.openChain({ forReading: true })
      const b = chain.get(ref)
      if (b === undefined) {
        // A height above the tip is the usual case: say where the chain ends (the hint said only
        // "give a height", which the user had done).
        const tip = chain.tip().height
        const hint = /^\d+$/.test(ref) ? `the chain's heights run from 0 to ${tip} (\`petal blocks\` lists the latest)` : 'give a height, a full hash, or at least 8 hex digits of one (`petal blocks` lists them)'
        throw new ChainError('BLOCK_NOT_FOUND', `no block ${JSON.stringify(ref)}`, { hint })
      }
      const tables = chain.index.tablesOf(b.hash)
      const ops = chain.index.keyOpsOf(b.hash)
      const d = blockDescription(chain, b)
      ctx.out.result({ ...blockJson(b), file: chain.pathOf(b), description: d?.description, reseal_of: d?.resealOf, tables, key_ops: ops }, () => [
        `block ${b.height}${b.canonical ? '' : ' (side branch)'}`,
        `  hash       ${b.hash}`,
        `  parent     ${b.parent}`,
        `  time       ${b.timestamp}`,
        `  signer     ${b.signer}`,
        `  size       ${formatBytes(b.size)}   file ${chain.pathOf(b)}`,
        `  rows root  ${b.rowsRoot}`,
        `  seal       ${b.seal}`,
        ...descriptionLines(d),
        tables.length === 0 ? '  tables     (none)' : '  tables',
        ...tables.map(t => `    ${t.name.padEnd(24)} ${String(t.rows).padStart(10)} rows   root ${short(t.root)}`),
        ...(ops.length === 0 ? [] : ['  key operations', ...ops.map(k => `    ${k.op === 'A' ? 'add   ' : 'revoke'} ${k.keyId}  endorsed by ${k.signers.map(s => short(s)).join(', ')}`)])
      ].join('\n'))
    }))
}

/**
 * The block's `_meta` Description (text from the block: control characters escaped) and the re-seal
 * mark in it, `re-seal of <origin>`: the block a re-seal copies (docs/consensus.md). A re-seal's
 * Description is the mark alone, said once.
 */
function descriptionLines (d: ReturnType<typeof blockDescription>): string[] {
  if (d?.description === undefined) return []
  const lines = d.resealOf !== undefined && d.description === resealDescription(d.resealOf) ? [] : d.description.split('\n').map((l, i) => `  ${i === 0 ? 'description' : '           '} ${escapeControls(l)}`)
  return d.resealOf === undefined ? lines : [...lines, `  re-seal of ${d.resealOf} (the block first published with this content)`]
}
