import { Option, type Command } from 'commander'
import { DEFAULT_TIMEOUT_MS, isTextFormat, QuerySandbox, runQuery, TEXT_FORMATS, type TextFormat } from '../../query/index.js'
import type { Progress } from '../progress.js'
import { formatBytes, short, UsageError } from '../output.js'
import type { Chain } from '../../chain/index.js'
import { openSqliteReadonly } from '../../storage/index.js'
import { canWrite, hintWithDir } from '../../util/index.js'
import type { CliContext } from '../context.js'
import type { Action } from '../program.js'
import { syncHistoryMirror } from '../mirror-sync.js'
import { sandboxEnv } from '../sandbox-env.js'
import { checkHeightRange, heightOption, intOption, secondsOption } from '../args.js'
import { decryptKeys, printConfidentialNotes } from '../confidential.js'
import { openChain } from '../hashing.js'
import { checkpointAudience } from '../checkpoint-audience.js'

/** It reads a Daisy directory too, whose derived state is brought up to date before it runs. */
export { refreshDaisy } from '../hashing.js'

interface QueryFlags { prove?: string, perBlock?: boolean, format: TextFormat, timeout: number, maxRows?: number, from?: number, to?: number, sync: boolean, decrypt: boolean }

const format = (v: string): TextFormat => {
  if (!isTextFormat(v)) throw new UsageError(`unknown format ${JSON.stringify(v)}`, `use one of ${TEXT_FORMATS.join(', ')}`)
  return v
}


// A sync shorter than this many blocks is not worth a progress line.
const PROGRESS_FROM = 64

/** query --prove: prove the answer's rows from the (now up to date) mirror and write the bundle. */
async function writeAnswerProof (ctx: CliContext, chain: Chain, sql: string, file: string): Promise<void> {
  const p = await import('../../proof/index.js')
  const mirror = openSqliteReadonly(chain.dir.queryDb)
  // Large tables' chunk roots are hashed in a thread of the command's, so Ctrl-C still stops it.
  const chunkPool = new p.ChunkPool()
  ctx.onClose(async () => { await chunkPool.close() })
  let r
  try {
    r = await p.proveQueryAnswer(chain, mirror, sql, { signal: ctx.signal, chunkPool, noCheckpointHint: asked => p.noCheckpointHint(checkpointAudience(ctx, chain), asked) })
  } finally {
    mirror.close()
  }
  const text = JSON.stringify(r.doc, null, 2) + '\n'
  await ctx.writeOutputFile(file, text, 'choose a path in a directory you can write')
  ctx.out.note(`wrote proofs of ${r.rows} row(s) of ${r.table} to ${file} (${formatBytes(Buffer.byteLength(text))}): each row is in the chain; NOT proven: that the answer left no row out`)
}

export function register (program: Command, action: Action): void {
  program.command('query <sql>')
    .description('run one read-only SQL statement over the whole chain (every table is the union of that table across all blocks, with _height; _blocks has block metadata), or with --per-block in each block')
    .option('--per-block', 'Daisy\'s mode: run the statement in each block that has the tables it reads, genesis included; rows carry _height')
    .option('-f, --format <format>', `output: ${TEXT_FORMATS.join(', ')}`, format, 'ndjson')
    .addOption(new Option('--timeout <seconds>', 'stop the statement after this long (0: no limit)').argParser(secondsOption('--timeout', 86_400)).default(DEFAULT_TIMEOUT_MS, String(DEFAULT_TIMEOUT_MS / 1000)))
    .option('--max-rows <n>', 'fail (exit 8) when the result has more rows than this', intOption('--max-rows'))
    .option('--from <height>', 'with --per-block: first height to visit', heightOption('--from'))
    .option('--to <height>', 'with --per-block: last height to visit', heightOption('--to'))
    .option('--no-sync', 'query the mirror as it is, without bringing it up to date first')
    .option('--no-decrypt', 'show encrypted columns as ciphertext even where this node holds the key (docs/confidential.md)')
    .option('--prove <file>', 'also write to FILE a proof bundle of every row of the answer (whole rows of one table: SELECT * FROM t WHERE …), checkable with `petal verify-proof`; proves each row is in the chain, not that none was left out')
    .action(action(async (ctx, sql: string, o: QueryFlags) => {
      if (o.prove !== undefined && o.perBlock === true) throw new UsageError('--prove works on the default (mirror) mode, not with --per-block', 'leave out --per-block; filter blocks with WHERE _height …')
      if (o.perBlock !== true && (o.from !== undefined || o.to !== undefined)) throw new UsageError('--from and --to apply to --per-block', 'in the default mode, filter with WHERE _height BETWEEN … AND …')
      // from > to is refused before the data directory is even opened.
      checkHeightRange(o.from, o.to, Number.MAX_SAFE_INTEGER)
      // The sandbox process starts first: its start-up (a Node process) overlaps opening the
      // chain and checking the mirror, instead of following them.
      const sandbox = new QuerySandbox(ctx.dir, { logger: ctx.logger, env: sandboxEnv() })
      sandbox.start()
      ctx.onClose(async () => { await sandbox.close() })
      const chain = openChain(ctx, { forReading: true })
      checkHeightRange(o.from, o.to, chain.tip().height)
      // A directory this user cannot write (an archive, another user's node): query.db is read as
      // it is, since bringing it up to date means writing it.
      const writable = canWrite(ctx.dir)
      if (o.perBlock !== true && o.sync && writable) await syncHistoryMirror(ctx)
      let bar: Progress | undefined
      const r = await runQuery(chain, {
        sql,
        perBlock: o.perBlock,
        format: o.format,
        timeoutMs: o.timeout,
        maxRows: o.maxRows,
        from: o.from,
        to: o.to,
        sync: o.sync && writable,
        decrypt: o.decrypt && o.perBlock !== true ? decryptKeys(ctx) : undefined,
        sandbox,
        signal: ctx.signal,
        // The mirror is up to date once the statement answers: its progress line ends first.
        // The sandbox waits for each chunk's promise: a stalled reader of stdout holds the query.
        onText: async text => { bar?.end(); ctx.out.stdout(text); await ctx.io.stdoutBacklog?.() },
        onSyncProgress: p => {
          if (bar === undefined && p.total < PROGRESS_FROM) return
          bar ??= ctx.progress('query mirror', 'blocks')
          bar.update({ phase: 'updating', ...p })
        }
      })
      bar?.end()
      const stop = r.sync?.stoppedAt
      if (stop !== undefined) ctx.logger.warn(`${stop.message}; this result covers heights 0 to ${stop.height - 1}`, { code: stop.code, hint: stop.hint })
      // Said every time, on stderr even with --json: the result lacks these blocks' rows.
      for (const b of r.skipped) {
        ctx.io.stderr(`petal: note: block ${b.height} (${short(b.hash)}) is left out of the query mirror, so its rows are not in this result: ${b.message} [${b.code}]\n`)
        ctx.io.stderr(`  hint: ${hintWithDir(b.code === 'MIRROR_SCHEMA' ? '`petal query --per-block` reads the block itself' : '`petal verify` reports the block with this code: it breaks the block rules (an older Petal accepted it)', ctx.opts.dir)}\n`)
      }
      printConfidentialNotes(ctx, r.confidential)
      const tip = chain.tip()
      if (r.sync?.busy === true && (r.tip?.height ?? -1) < tip.height) {
        ctx.io.stderr(`petal: note: another process is updating the query mirror; this result covers blocks up to height ${r.tip?.height ?? '-'} of ${tip.height}\n`)
      }
      if (!writable && o.perBlock !== true && (r.tip?.height ?? -1) < tip.height) {
        ctx.logger.warn('the query mirror is behind the chain and this user cannot update it (the data directory is read-only)', { mirror: r.tip?.height, chain: tip.height })
      }
      ctx.logger.debug('query finished', { rows: r.rowCount, blocks: r.blocks, height: r.tip?.height })
      if (o.prove !== undefined) await writeAnswerProof(ctx, chain, sql, o.prove)
    }))
}
