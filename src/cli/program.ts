import { Command, CommanderError, Help, type Option } from 'commander'
import { join } from 'node:path'
import { asError, errorCode, errorMessage, hintOf, hintWithDir, isPetalError, LazyAbort, type LogLevel } from '../util/index.js'
import { diskFailureOf } from '../block/index.js'
import { IndexDb, indexUnusable, StorageError, systemFailure } from '../storage/index.js'
import { CliContext, type CliIO, type GlobalOptions } from './context.js'
import { EXIT, exitCodeOf } from './exit-codes.js'
import { jsonReplacer, UsageError } from './output.js'
import { loadCommands } from './commands/index.js'
import { commandWord } from './command-word.js'

/** A command's log level unless --log-level says otherwise: fixed, or chosen from its own options. */
export type DefaultLogLevel = LogLevel | ((opts: Record<string, unknown>) => LogLevel)

/** Wraps a command body: builds its context, runs it, maps errors to an exit status. */
export type Action = <A extends unknown[]>(body: (ctx: CliContext, ...args: A) => Promise<void>, defaultLogLevel?: DefaultLogLevel) => (...args: unknown[]) => Promise<void>

export interface CommandModule {
  register: (program: Command, action: Action) => void
  /** Brings a Daisy directory's derived state up to date (hashing.ts): the modules of the commands that read one. */
  refreshDaisy?: (ctx: CliContext) => Promise<unknown>
}

/** Petal's version, as `petal --version` prints it (package.json's). */
export const PETAL_VERSION = '0.1.0'

/**
 * An option's help text without commander's "(default: [])": a repeatable option starts from an
 * empty list, which says nothing to a reader (docs47). Other defaults are shown as commander shows them.
 */
function optionDescription (this: Help, option: Option): string {
  const d: unknown = option.defaultValue
  if (!(Array.isArray(d) && d.length === 0)) return Help.prototype.optionDescription.call(this, option)
  const shown: Option = Object.create(option)
  shown.defaultValue = undefined
  return Help.prototype.optionDescription.call(this, shown)
}

/** The program with its global options, before any command is registered. */
export function newProgram (io: Pick<CliIO, 'stdout' | 'stderr'>): Command {
  return new Command('petal')
    .description('Petal: a proof-of-authority blockchain whose blocks are SQLite databases')
    .version(PETAL_VERSION)
    // Copied to every command registered after this (commander's inherited settings).
    .configureHelp({ optionDescription })
    .option('-d, --dir <path>', 'data directory (default: $PETAL_DIR or ~/.petal); a Daisy data directory is read, never written (docs/daisy.md)')
    .option('--state <path>', 'with a Daisy --dir: where Petal keeps its index and query mirror of it (default: ~/.petal/daisy-state/<hash of its path>)')
    .option('--json', 'machine-readable output (one JSON document per line)')
    .option('-k, --key <id>', 'signing key id or unique prefix (default: the keystore default)')
    .option('--passphrase-file <file>', 'file holding the passphrase of encrypted keys (or set PETAL_PASSPHRASE)')
    .option('--log-level <level>', 'error, warn, info or debug')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: s => { io.stdout(s) },
      writeErr: s => { io.stderr(s) },
      // Commander's own errors are printed by usageFailure, in Petal's format.
      outputError: () => {}
    })
}

/**
 * Run `petal` with `argv` (without node and script); resolves to the exit status. `signal`: the
 * command's abort signal, or the abort that makes it when a command first asks (start.ts).
 */
export async function runCli (argv: string[], io: CliIO, signal?: AbortSignal | LazyAbort): Promise<number> {
  const signalOf = signal ?? new LazyAbort()
  let status: number = EXIT.OK
  const program = newProgram(io)
  const actionOf = (m: CommandModule): Action => (body, defaultLogLevel) => async (...args: unknown[]) => {
    // Commander calls an action with the arguments, the options, then the command itself.
    const cmd = args.at(-1)
    if (!(cmd instanceof Command)) throw new TypeError('an action was called without its command')
    const level = typeof defaultLogLevel === 'function' ? defaultLogLevel(cmd.opts()) : defaultLogLevel
    const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>(), io, signalOf, level, commandPath(cmd).replace(/^petal /, ''))
    ctx.refreshDaisy = m.refreshDaisy
    try {
      await ctx.prepare()
      // The one untyped boundary: each command declares the argument types commander gives it.
      await body(ctx, ...(args.slice(0, -1) as never))
    } catch (err) {
      ctx.endProgress()
      status = reportError(err, ctx, io)
    } finally {
      await ctx.close()
    }
  }
  const name = commandName(program, argv)
  for (const m of await loadCommands(name, argv.includes('-V') || argv.includes('--version'))) m.register(program, actionOf(m))
  // Remember which command commander failed in, for a hint that names it.
  let failedIn: Command | undefined
  const onExit = (c: Command): void => {
    c.exitOverride(err => { failedIn ??= c; throw err })
    for (const sub of c.commands) onExit(sub)
  }
  onExit(program)

  // --json is known before commander has parsed anything (a usage error may stop it first).
  const words = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : undefined)
  const json = words.includes('--json')
  // `petal --json --version`: commander would print the bare number.
  if (json && name === undefined && (words.includes('-V') || words.includes('--version'))) {
    io.stdout(JSON.stringify({ version: PETAL_VERSION }) + '\n')
    return EXIT.OK
  }
  try {
    await program.parseAsync(argv, { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.OK
      return reportError(usageFailure(err, failedIn ?? program), undefined, io, json)
    }
    // Errors before a context exists (a bad option value, a bad --log-level) land here.
    return reportError(err, undefined, io, json)
  }
  return status
}

/**
 * The command `argv` names: its first word that is neither a global option nor the value of one
 * (the program's own option list says which options take a value). Undefined for `petal --help`.
 */
export function commandName (program: Command, argv: readonly string[]): string | undefined {
  return commandWord(argv, globalsTakingValue(program))
}

/** The program's global options that take a value (their short and long spellings). */
export function globalsTakingValue (program: Command): Set<string> {
  return new Set(program.options.filter(o => o.required || o.optional).flatMap(o => [o.short, o.long]).filter(f => f !== undefined))
}

/**
 * A raw SQLITE_CORRUPT that reached the CLI from a chain index SQLite opened but could not read a
 * page of (a damaged chain.db, or a read the disk failed), from a query IndexDb does not wrap.
 * Block files are read through their own coded paths (sqliteFailure), the pending store and the
 * query mirror through theirs. It was an internal error with a stack trace.
 */
function malformedIndex (err: unknown, ctx: CliContext | undefined): StorageError | undefined {
  const code = errorCode(err)
  if (code?.startsWith('SQLITE_CORRUPT') !== true || ctx === undefined) return undefined
  const path = join(ctx.dir, 'chain.db')
  // A disk that keeps failing (node:fs cannot read chain.db either) fails quick_check too: that is
  // the disk's error, not a damaged index (fault torture, read lane, seed 35 #4; mend35).
  const disk = diskFailureOf(err, path, () => { throw err })
  if (disk !== undefined) return systemFailure(disk)
  // Said of chain.db only when it is chain.db: one that reads whole now had a read the disk failed
  // once, or the page was another database's (pending.db's raw errors would reach here too).
  if (indexReadsWhole(path)) {
    return new StorageError('IO_ERROR', `SQLite could not read a page of a database of ${ctx.dir} (${code}): ${errorMessage(err)}; chain.db reads whole now: a read the disk failed, or a damaged pending.db or query.db`, {
      hint: 'check the disk (dmesg, fsck), then run the command again; `petal verify` checks the block files', cause: err
    })
  }
  const problem = `SQLite could not read a page of the chain index ${path} (${code}): ${errorMessage(err)}; a damaged file, or a read the disk failed`
  const e = indexUnusable(path, problem, err)
  // A reindex under way is why (indexUnusable says to wait for it); else the disk, or the file.
  if (e.hint?.startsWith('wait for') === true) return e
  return new StorageError('INDEX_CORRUPT', problem, { hint: 'check the disk (dmesg, fsck); the index is derived from the block files: rebuild it with `petal reindex`, then `petal verify`', cause: err })
}

/** Whether the index at `path` opens and SQLite reads every page of it (false on any failure). */
function indexReadsWhole (path: string): boolean {
  try {
    const index = IndexDb.open(path, { readonly: true })
    try { return index.readsWhole() } finally { index.close() }
  } catch {
    return false
  }
}

function reportError (thrown: unknown, ctx: CliContext | undefined, io: CliIO, json = ctx?.out.json === true): number {
  // A full disk, a failing disk, permissions…: say so with a code and a hint, not a stack trace.
  const err = isPetalError(thrown) ? thrown : (systemFailure(thrown) ?? malformedIndex(thrown, ctx) ?? thrown)
  const code = exitCodeOf(err)
  if (isPetalError(err)) {
    // Thrown without a hint of its own (a block check deep in validation): its code's usual remedy.
    const given = hintOf(err)
    const hint = given === undefined ? undefined : hintWithDir(given, ctx?.opts.dir)
    if (json) io.stdout(JSON.stringify({ error: { ...err.toJSON(), hint } }, jsonReplacer) + '\n')
    if (err.code === 'ABORTED') {
      io.stderr('petal: interrupted\n')
    } else {
      io.stderr(`petal: error: ${err.message} [${err.code}]\n`)
      if (hint !== undefined) io.stderr(`  hint: ${hint}\n`)
    }
  } else {
    const e = asError(err)
    if (json) io.stdout(JSON.stringify({ error: { code: 'INTERNAL', message: e.message } }) + '\n')
    io.stderr(`petal: internal error: ${e.stack ?? String(err)}\n  hint: this is a bug in Petal; please report it with the command you ran\n`)
  }
  return code
}

/**
 * A commander parse error as a Petal usage error: its message without commander's decorations,
 * and a hint that is true for the command it happened in: the suggestion commander found (an
 * unknown command or option), else that command's usage line and its --help.
 */
export function usageFailure (err: CommanderError, cmd: Command): UsageError {
  const [first = '', ...rest] = err.message.replace(/^error: /, '').split('\n')
  const path = commandPath(cmd)
  const help = `\`${path} --help\``
  const similar = /^\(Did you mean (?:one of )?(.+)\?\)$/.exec(rest.join(' ').trim())?.[1]?.split(', ') ?? []
  switch (err.code) {
    case 'commander.unknownCommand':
      return new UsageError(first, similar.length > 0
        ? `did you mean ${similar.map(s => `\`${path} ${s}\``).join(' or ')}? (${help} lists the commands)`
        : `${help} lists the commands`, { suggestions: similar })
    case 'commander.unknownOption':
      return new UsageError(first, similar.length > 0
        ? `did you mean ${similar.join(' or ')}? (${help} lists the options)`
        : `${help} lists the options`, { suggestions: similar })
    case 'commander.help':
      // A command that only groups others (`petal`, `petal keys`), given none: commander printed its help.
      return new UsageError(`${path} needs a command`, `choose one of the commands listed above (${help})`)
    default:
      // Missing or excess arguments, a missing option value, a required option left out.
      return new UsageError(first, `usage: ${path} ${cmd.usage()} (see ${help})`)
  }
}

function commandPath (cmd: Command): string {
  const names: string[] = []
  for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}
