import type { Command } from 'commander'
import { detectFormat, Ingest, IngestError, parseRecords, RECORD_FORMATS, type RecordFormat, type Receipt } from '../../ingest/index.js'
import { refuseBesidePull, runningNodeRole } from '../../node/state-file.js'
import { errorMessage, hintWithDir, isPetalError, pausepoint } from '../../util/index.js'
import { intOption } from '../args.js'
import { readInputFile, readStdin } from '../input.js'
import type { CliContext } from '../context.js'
import { syncMirrorAfterImport } from '../mirror-sync.js'
import { formatBytes, short, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { openChain } from '../hashing.js'

export const recordFormat = (v: string): RecordFormat => {
  if (!(RECORD_FORMATS as readonly string[]).includes(v)) throw new UsageError(`unknown format ${JSON.stringify(v)}`, `use one of ${RECORD_FORMATS.join(', ')}`)
  return v as RecordFormat
}

/**
 * Records are parsed in memory, so an input is read up to this size (an endless stream such as
 * /dev/zero is refused, not read until memory runs out).
 */
export const MAX_RECORDS_INPUT = 256 * 1024 * 1024
const RECORDS_TOO_LONG = 'split the records into smaller files and append each (every append is acknowledged on its own)'

/** Read a records file (or stdin for `-`), and parse it in the format given or detected. */
export async function readRecords (file: string, format: RecordFormat | undefined, signal: AbortSignal, maxRows?: number, note?: (text: string) => void): Promise<{ rows: ReturnType<typeof parseRecords>, format: RecordFormat, bytes: number }> {
  const bytes = file === '-'
    ? await readStdin(signal, MAX_RECORDS_INPUT, RECORDS_TOO_LONG, () => note?.('reading records from the terminal: end them with Ctrl-D on a line of its own (Ctrl-C cancels)'))
    : await readInputFile(file, 'records file', signal, MAX_RECORDS_INPUT, RECORDS_TOO_LONG)
  const f = format ?? detectFormat(file === '-' ? undefined : file, bytes.subarray(0, 64).toString('utf8'))
  return { rows: parseRecords(bytes, f, { maxRows }), format: f, bytes: bytes.byteLength }
}

/** The id of the signing key (no passphrase needed: appending only checks it is a signatory). */
function keyIdOf (ctx: CliContext): string | undefined {
  try {
    return ctx.keystore().resolve(ctx.opts.key).id
  } catch (err) {
    if (isPetalError(err) && err.code === 'NO_KEYS' && ctx.opts.key === undefined) return undefined
    throw err
  }
}

/** How long `append` waits for a node that holds node.lock to say whether it signs (runningNodeRole). */
const STATE_WAIT_MS = 3_000

/** Who seals appended rows, as `append` says it: `role` from runningNodeRole ('unread': it failed). */
export function sealerNote (role: Awaited<ReturnType<typeof runningNodeRole>> | 'unread'): string {
  switch (role) {
    case 'unread': return 'Whether a node runs here could not be read (see the warning): if one runs and signs, it seals them; if not, seal them with `petal seal`; '
    case 'signatory': return 'The running node seals them into a block; '
    case 'follower': return 'The running node does not sign (no signing key loaded): seal them with `petal seal`; '
    case 'pull': return 'A pull holds this data directory (`petal pull`): it seals nothing, so they stay pending; once it has ended, seal them with `petal seal` (a signatory key), or run a node whose key signs (`petal run`, or the node `pull --follow` becomes); '
    case 'unknown': return 'A node seems to be starting here (node.lock is held, its node-state.json not written yet): if it signs, it seals them; if not, seal them with `petal seal`; '
    case undefined: return 'No node runs here: seal them with `petal seal`; '
  }
}

function describeReceipt (r: Receipt): string {
  if (r.state === 'sealed' && r.sealed !== undefined) {
    return `${r.id}: sealed in block ${r.sealed.height} ${r.sealed.blockHash}, table ${r.sealed.table}, rowid ${r.sealed.rowid} (block time ${r.sealed.sealedAt}; accepted ${r.acceptedAt})`
  }
  return `${r.id}: pending in table ${r.table} (accepted ${r.acceptedAt})${r.problem === undefined ? '' : `; cannot be sealed: ${r.problem}`}`
}

export function register (program: Command, action: Action): void {
  program.command('append <table> [file]')
    .description('store records (CSV with a header row, NDJSON, or a JSON array; FILE or - for standard input) durably as pending rows of TABLE, and print one receipt per row; a running node seals them into a block (or run `petal seal`)')
    .option('-f, --format <format>', `input format: ${RECORD_FORMATS.join(', ')} (default: from the file extension, else from the content)`, recordFormat)
    .option('--schema <sql>', 'declare the table first with this CREATE TABLE statement (idempotent); without FILE, only declare it')
    .option('--max-rows <n>', 'refuse an input of more rows than this (default 1,000,000)', intOption('--max-rows', { min: 1 }))
    .action(action(async (ctx, table: string, file: string | undefined, o: { format?: RecordFormat, schema?: string, maxRows?: number }) => {
      const chain = openChain(ctx)
      const ingest = Ingest.open({ chain, keyId: keyIdOf(ctx), logger: ctx.logger, maxAppendRows: o.maxRows })
      ctx.onClose(async () => { await ingest.close() })
      let declared: { created: boolean, sql: string } | undefined
      if (o.schema !== undefined) declared = await ingest.putTable(table, o.schema)
      if (file === undefined && o.schema !== undefined) {
        ctx.out.result({ table, created: declared?.created, sql: declared?.sql }, () => `table ${table} ${declared?.created === true ? 'declared' : 'already declared so'}: ${declared?.sql ?? ''}`)
        return
      }
      const input = await readRecords(file ?? '-', o.format, ctx.signal, o.maxRows, ctx.out.note)
      const r = await ingest.append(table, input.rows, { signal: ctx.signal })
      ctx.out.result({ table: r.table, created: r.created, added_columns: r.addedColumns, rows: r.receipts.length, receipts: r.receipts }, () => r.receipts.join('\n'))
      // Say truly who seals: a node that runs as a follower (its key not loaded) does not, and of a
      // node that has just taken its lock nothing is known until it writes its state (the receipts
      // are out first: this may wait). Ctrl-C then ends the wait, not the command, and so does a
      // look that fails (the disk refusing node.lock's journal: the fault torture's seed 5163): the
      // rows are stored, and a failure here would have them appended again.
      const role = await runningNodeRole(ctx.dir, { waitMs: STATE_WAIT_MS, signal: ctx.signal }).catch((err: unknown) => {
        if (ctx.signal.aborted) return 'unknown' as const
        ctx.logger.warn('the rows are stored; whether a node runs here to seal them could not be read', { error: errorMessage(err) })
        return 'unread' as const
      })
      // Its `petal seal` and `petal receipt ID` name the user's --dir, as hints do: run as printed
      // without it, they acted on $PETAL_DIR or ~/.petal (review34).
      ctx.out.note(`${r.receipts.length} row(s) of ${input.format.toUpperCase()} (${formatBytes(input.bytes)}) stored as pending rows of ${r.table}` +
        `${r.created ? ' (new table)' : ''}${r.addedColumns.length > 0 ? `; new column(s): ${r.addedColumns.join(', ')}` : ''}.\n` +
        hintWithDir(sealerNote(role) + 'check one with `petal receipt ID`.', ctx.opts.dir))
    }, 'warn'))

  program.command('seal')
    .description('seal every pending row into blocks now (beside a running node or alone), with your signing key')
    .action(action(async ctx => {
      // Its rows would go into a block the pull's own sync orphans (and wait to be sealed again).
      refuseBesidePull(ctx.dir, 'petal seal')
      const chain = openChain(ctx)
      const ingest = Ingest.open({ chain, key: ctx.loadKey(), logger: ctx.logger })
      ctx.onClose(async () => { await ingest.close() })
      const bar = ctx.progress('seal')
      const r = await ingest.sealNow({
        signal: ctx.signal,
        onWait: () => { bar.clear(); ctx.out.note('waiting for another process that is sealing or writing to this data directory…') },
        onProgress: p => { if (p.totalBytes > 0) bar.update({ phase: `${p.rows} of ${p.totalRows} rows sealed`, done: p.bytes, total: p.totalBytes }) }
      })
      bar.end()
      const rows = r.blocks.reduce((s, b) => s + b.rows, 0)
      // The result first: the blocks are committed whatever becomes of what follows (a Ctrl-C
      // during the mirror's update said only "interrupted" until session 52).
      ctx.out.result({ rows, blocks: r.blocks }, () => r.blocks.length === 0
        ? 'nothing to seal'
        : r.blocks.map(b => `block ${b.height} ${b.hash}: ${b.rows} row(s)`).join('\n'))
      if (r.blocks.length > 0) {
        ctx.out.note(`sealed ${rows} row(s) into ${r.blocks.length} block(s), signed by ${short(ctx.loadKey().id)}`)
        const { signTipCheckpoints } = await import('../../proof/index.js')
        try {
          // Tests stop here to interrupt the signing (e2e/mirror-interrupted.test.ts).
          await pausepoint('cli:seal-sign', ctx.signal)
          await signTipCheckpoints(chain, ctx.loadKey(), { signal: ctx.signal })
        } catch (err) {
          // The blocks are committed and printed: a Ctrl-C here (the write lock may be another's for a
          // while) said only "petal: interrupted" (130), as if nothing had been sealed (review52b).
          if (!isPetalError(err) || err.code !== 'ABORTED') throw err
          // With the key that sealed, when --key chose it: the keystore's default may be no signatory (review53).
          const withKey = ctx.opts.key === undefined ? '' : ` --key ${ctx.loadKey().id}`
          ctx.out.note(hintWithDir(`interrupted before signing the tip's checkpoints: the sealed blocks are committed; \`petal checkpoint --sign${withKey}\` signs them (a node running here signs its tip's by itself)`, ctx.opts.dir))
          return
        }
        await syncMirrorAfterImport(ctx, chain)
      }
    }, 'warn'))

  program.command('receipt <id>')
    .description('where a row acknowledged by `petal append` or the HTTP API is: pending, or sealed (block, table, rowid)')
    .action(action(async (ctx, id: string) => {
      const chain = openChain(ctx, { forReading: true })
      const ingest = Ingest.open({ chain, readonly: true, logger: ctx.logger })
      ctx.onClose(async () => { await ingest.close() })
      const r = ingest.receipt(id)
      if (r === undefined) {
        throw new IngestError('INGEST_UNKNOWN_RECEIPT', `no receipt ${JSON.stringify(id)} in ${ctx.dir}`, {
          hint: 'a receipt is answered by the data directory that issued it (give it with --dir); ids look like abcdefgh-42', details: { receipt: id }
        })
      }
      ctx.out.result({ id: r.id, table: r.table, state: r.state, accepted_at: r.acceptedAt, sealed: r.sealed === undefined ? undefined : { height: r.sealed.height, block_hash: r.sealed.blockHash, table: r.sealed.table, rowid: r.sealed.rowid, sealed_at: r.sealed.sealedAt }, problem: r.problem }, () => describeReceipt(r))
    }, 'warn'))
}
