import { closeSync, createWriteStream, linkSync, lstatSync, openSync, readdirSync, renameSync, rmSync, unlinkSync, type WriteStream } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { Command } from 'commander'
import { exportTable, EXPORT_FORMATS, isExportFormat, type ExportFormat } from '../../query/index.js'
import { atomicTempPath, canWrite, errorMessage, fsyncDir, fsyncFile, pausepoint, removeDeadWritersTemps, shellWord, tempAbandoned } from '../../util/index.js'
import { checkHeightRange, heightOption } from '../args.js'
import { decryptKeys, printConfidentialNotes } from '../confidential.js'
import { formatBytes, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { openChain } from '../hashing.js'

interface ExportFlags { format?: ExportFormat, out?: string, from?: number, to?: number, decrypt: boolean, sync: boolean }

const format = (v: string): ExportFormat => {
  if (!isExportFormat(v)) throw new UsageError(`unknown export format ${JSON.stringify(v)}`, `use one of ${EXPORT_FORMATS.join(', ')}`)
  return v
}

/** Format from -o's extension, else CSV. */
function formatOf (o: ExportFlags): ExportFormat {
  if (o.format !== undefined) return o.format
  const ext = /\.([a-z0-9]+)$/i.exec(o.out ?? '')?.[1]?.toLowerCase()
  if (ext === 'ndjson' || ext === 'jsonl') return 'ndjson'
  if (ext === 'db' || ext === 'sqlite' || ext === 'sqlite3') return 'sqlite'
  return 'csv'
}

/**
 * Whether anything is at `out`, a link to nowhere too: existsSync follows a link, so one to a
 * missing file passed the check before the export, which then ran in full for the hard link into
 * place to meet the link (EEXIST) and say it had been made while the export ran.
 */
function taken (out: string): boolean {
  try {
    return lstatSync(out, { throwIfNoEntry: false }) !== undefined
  } catch {
    return false // ENOTDIR, EACCES: making the temporary beside it then says why it cannot be written
  }
}

/** -o names a file that is there: before the export, or made while it ran (`when`). */
function exists (out: string, when: string): UsageError {
  return new UsageError(`${out} already exists${when}`, 'choose a new file name, or remove the old file first')
}

async function write (stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await new Promise<void>((resolve, reject) => { stream.once('drain', resolve); stream.once('error', reject) })
}

export function register (program: Command, action: Action): void {
  program.command('export <table>')
    .description('write a table\'s rows across the chain as CSV, NDJSON or an SQLite file (the exact inverse of importing them), decrypting the columns this node holds keys for')
    .option('-f, --format <format>', `${EXPORT_FORMATS.join(', ')} (default: from -o's extension, else csv)`, format)
    .option('-o, --out <file>', 'write to a new FILE (written under a temporary name, then linked into place, never over a file) instead of stdout; required for sqlite')
    .option('--from <height>', 'first height whose rows are exported', heightOption('--from'))
    .option('--to <height>', 'last height whose rows are exported', heightOption('--to'))
    .option('--no-decrypt', 'leave encrypted columns as ciphertext even where this node holds the key')
    .option('--no-sync', 'export from the query mirror as it is, without bringing it up to date first')
    .action(action(async (ctx, table: string, o: ExportFlags) => {
      const fmt = formatOf(o)
      checkHeightRange(o.from, o.to, Number.MAX_SAFE_INTEGER)
      if (fmt === 'sqlite' && o.out === undefined) throw new UsageError('an SQLite export needs a file', `\`petal export ${shellWord(table)} --format sqlite -o ${shellWord(`${table}.db`)}\``)
      if (o.out !== undefined && taken(o.out)) throw exists(o.out, '')
      const chain = openChain(ctx, { forReading: true })
      checkHeightRange(o.from, o.to, chain.tip().height)
      const out = o.out
      // Named as writeOutputFile's temporaries (`FILE.n<ns>.<pid>.<hex>.tmp`): a killed export's is
      // removed by the next export to FILE (or any write of it) once its writer is gone.
      if (out !== undefined) removeDeadExportTemps(out)
      const tmp = out === undefined ? undefined : atomicTempPath(out)
      // Created here, synchronously: a directory that is missing or not writable is a usage error
      // before any work (opened by the stream on the thread pool, its failure was an unhandled
      // 'error' event; SQLite's, an internal error). SQLite opens the empty file as a new database.
      const fd = tmp === undefined || out === undefined ? undefined : createTemporary(tmp, out, fmt)
      const stream = fd === undefined || fmt === 'sqlite' ? undefined : createWriteStream('', { fd })
      if (fd !== undefined && stream === undefined) closeSync(fd)
      // An SQLite file's size is known only at the end: its progress counts rows.
      const bar = fmt === 'sqlite' ? ctx.progress('export', 'rows') : ctx.progress('export')
      try {
        const r = await exportTable(chain, {
          table,
          format: fmt,
          from: o.from,
          to: o.to,
          decrypt: o.decrypt ? decryptKeys(ctx) : undefined,
          sync: o.sync && canWrite(ctx.dir),
          signal: ctx.signal,
          sqlitePath: fmt === 'sqlite' ? tmp : undefined,
          onText: async text => {
            if (stream !== undefined) await write(stream, text)
            else {
              // A stalled reader of stdout holds the export back, as it does a query's answer:
              // unawaited, everything after the pipe filled piled up in Node's stream.
              ctx.out.stdout(text)
              await ctx.io.stdoutBacklog?.()
            }
          },
          // Bytes written, with the total estimated from the rows still to come.
          onProgress: p => {
            if (fmt === 'sqlite') bar.update({ phase: 'exporting', done: p.rows, total: p.totalRows })
            else bar.update({ phase: 'exporting', done: p.bytes, total: p.rows === 0 ? 0 : Math.round(p.bytes * p.totalRows / p.rows) })
          }
        })
        bar.end()
        if (stream !== undefined) await new Promise<void>((resolve, reject) => { stream.end(() => { resolve() }); stream.once('error', reject) })
        if (tmp !== undefined && out !== undefined) {
          fsyncFile(tmp)
          await pausepoint('export:written', ctx.signal)
          placeNew(tmp, out)
          fsyncDir(dirname(out))
        }
        printConfidentialNotes(ctx, r.confidential)
        if (out !== undefined) {
          ctx.out.result({ table: r.plan.table, format: fmt, rows: r.rowCount, bytes: r.bytes, file: out ?? null, tip: r.tip ?? null, confidential: r.confidential ?? [] }, () =>
            `exported ${r.rowCount} row(s) of ${r.plan.table}${out === undefined ? '' : ` to ${out}`}${fmt === 'sqlite' ? '' : ` (${formatBytes(r.bytes)})`}`)
        }
      } catch (err) {
        bar.end()
        // The stream's descriptor is closed (on the thread pool) before the temporary is removed.
        if (stream !== undefined && !stream.closed) await new Promise<void>(resolve => { stream.once('close', resolve); stream.destroy() })
        if (tmp !== undefined) rmSync(tmp, { force: true })
        throw err
      }
    }))
}

/**
 * Put the finished temporary at `out` unless something is there by now: the check before the
 * export is long past, and a rename would silently replace a file made meanwhile. A hard link
 * fails with EEXIST instead, atomically; then the temporary goes (the caller removes it on any
 * failure). A file system without hard links (FAT, some network ones) gets the check and the
 * rename, as before.
 */
function placeNew (tmp: string, out: string): void {
  try {
    linkSync(tmp, out)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const made = exists(out, ' (made while the export ran; the export was not written)')
    if (code === 'EEXIST') throw made
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err
    if (taken(out)) throw made
    renameSync(tmp, out)
    return
  }
  unlinkSync(tmp)
}

/** The export's temporary file, new (mode 0600), open for writing; a UsageError where it cannot be made. */
function createTemporary (tmp: string, out: string, fmt: ExportFormat): number {
  try {
    return openSync(tmp, 'wx', 0o600)
  } catch (err) {
    const hint = (err as NodeJS.ErrnoException).code === 'EEXIST'
      ? 'run the export again (its temporary file takes a new name each time)'
      : `choose a path in a directory you can write${fmt === 'sqlite' ? '' : ', or leave -o out to write to stdout'}`
    throw new UsageError(`cannot write ${out}: ${errorMessage(err)}`, hint)
  }
}

/**
 * Remove, beside `out`, the temporaries of exports to it whose writer is gone: the current names
 * (removeDeadWritersTemps: tempAbandoned's rule, so never a live export's, nor another PID
 * namespace's younger than a day), and `.<out>.<pid>.tmp` of versions before session 43, which
 * nothing removed.
 */
function removeDeadExportTemps (out: string): void {
  const dir = dirname(out)
  const file = basename(out)
  removeDeadWritersTemps(dir, file)
  let names: string[]
  try { names = readdirSync(dir) } catch { return }
  for (const name of names) {
    const pid = name.startsWith(`.${file}.`) && name.endsWith('.tmp') ? name.slice(file.length + 2, -4) : ''
    if (!/^[1-9][0-9]*$/.test(pid)) continue
    const path = join(dir, name)
    try {
      if (lstatSync(path).isFile() && tempAbandoned(Number(pid), '', path)) rmSync(path, { force: true })
    } catch {}
  }
}
