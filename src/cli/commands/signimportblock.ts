import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { parseEndorsement, signImport } from '../../chain/index.js'
import { syncMirrorAfterImport } from '../mirror-sync.js'
import { formatBytes, short, UsageError } from '../output.js'
import type { Action } from '../program.js'

export function register (program: Command, action: Action): void {
  program.command('signimportblock [file]').description('seal an SQLite file into the next block (your file is not modified) and import it; without a file, a block holding only --keyops')
    .option('--keyops <file>', 'an endorsement file from `petal signkey` to include as a key operation (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .action(action(async (ctx, file: string | undefined, o: { keyops: string[] }) => {
      if (file === undefined && o.keyops.length === 0) throw new UsageError('give the SQLite file to seal, or --keyops for a block of key operations only', 'petal signimportblock data.db [--keyops endorsement.json …]')
      const chain = ctx.openChain()
      const key = ctx.loadKey()
      const keyOps = o.keyops.map(f => {
        let text: string
        try {
          text = readFileSync(f, 'utf8')
        } catch (err) {
          throw new UsageError(`cannot read endorsement ${f}: ${(err as Error).message}`, 'give the file that `petal signkey … -o FILE` wrote')
        }
        return parseEndorsement(text, chain.chainId, f)
      })
      const bar = ctx.progress('signimportblock')
      const r = await signImport(chain, file, key, {
        keyOps,
        signal: ctx.signal,
        onWait: () => { ctx.out.note('waiting for another process writing to this data directory…') },
        onProgress: p => { bar.update(p) }
      })
      bar.end()
      await syncMirrorAfterImport(ctx, chain, { bytes: r.block.size })
      const tables = chain.index.tablesOf(r.block.hash)
      ctx.out.result({ status: r.status, height: r.block.height, hash: r.block.hash, seal: r.block.seal, size: r.block.size, tables, key_ops: r.block.keyOps }, () => [
        `block ${r.block.height} ${r.block.hash}`,
        `  ${formatBytes(r.block.size)}, signed by ${short(key.id)}, ${tables.length} table(s): ${tables.map(t => `${t.name} (${t.rows} rows)`).join(', ') || 'none'}` +
          (r.block.keyOps > 0 ? `, ${r.block.keyOps} key operation(s)` : '')
      ].join('\n'))
    }))
}
