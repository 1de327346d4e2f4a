import { Command, CommanderError } from 'commander'
import { isPetalError, type LogLevel } from '../util/index.js'
import { CliContext, type CliIO, type GlobalOptions } from './context.js'
import { EXIT, exitCodeOf } from './exit-codes.js'
import { jsonReplacer } from './output.js'
import { COMMANDS } from './commands/index.js'

/** Wraps a command body: builds its context, runs it, maps errors to an exit status. */
/** A command's log level unless --log-level says otherwise: fixed, or chosen from its own options. */
export type DefaultLogLevel = LogLevel | ((opts: Record<string, unknown>) => LogLevel)

export type Action = <A extends unknown[]>(body: (ctx: CliContext, ...args: A) => Promise<void>, defaultLogLevel?: DefaultLogLevel) => (...args: unknown[]) => Promise<void>

export interface CommandModule { register: (program: Command, action: Action) => void }

/** Run `petal` with `argv` (without node and script); resolves to the exit status. */
export async function runCli (argv: string[], io: CliIO, signal: AbortSignal = new AbortController().signal): Promise<number> {
  let status: number = EXIT.OK
  const program = new Command('petal')
  program
    .description('Petal: a proof-of-authority blockchain whose blocks are SQLite databases')
    .version('0.1.0')
    .option('-d, --dir <path>', 'data directory (default: $PETAL_DIR or ~/.petal)')
    .option('--json', 'machine-readable output (one JSON document per line)')
    .option('-k, --key <id>', 'signing key id or unique prefix (default: the keystore default)')
    .option('--passphrase-file <file>', 'file holding the passphrase of encrypted keys (or set PETAL_PASSPHRASE)')
    .option('--log-level <level>', 'error, warn, info or debug')
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run `petal --help` for the list of commands)')
    .exitOverride()
    .configureOutput({
      writeOut: s => { io.stdout(s) },
      writeErr: s => { io.stderr(s) },
      outputError: (s, write) => { write(`petal: ${s}`) }
    })

  const action: Action = (body, defaultLogLevel) => async (...args: unknown[]) => {
    const cmd = args.at(-1) as Command
    const level = typeof defaultLogLevel === 'function' ? defaultLogLevel(cmd.opts()) : defaultLogLevel
    const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>(), io, signal, level)
    try {
      await body(ctx, ...(args.slice(0, -1) as never))
    } catch (err) {
      status = reportError(err, ctx, io)
    } finally {
      await ctx.close()
    }
  }
  for (const m of COMMANDS) m.register(program, action)

  try {
    await program.parseAsync(argv, { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.OK
      // Commander printed the message; scripts asking for --json get it as JSON too.
      if (argv.includes('--json')) io.stdout(JSON.stringify({ error: { code: 'USAGE', message: err.message.replace(/^error: /, ''), hint: 'run `petal --help`' } }) + '\n')
      return EXIT.USAGE
    }
    // Errors before a context exists (e.g. a bad --log-level) land here.
    return reportError(err, undefined, io)
  }
  return status
}

function reportError (err: unknown, ctx: CliContext | undefined, io: CliIO): number {
  const code = exitCodeOf(err)
  if (isPetalError(err)) {
    if (ctx?.out.json === true) io.stdout(JSON.stringify({ error: err.toJSON() }, jsonReplacer) + '\n')
    if (err.code === 'ABORTED') {
      io.stderr('petal: interrupted\n')
    } else {
      io.stderr(`petal: error: ${err.message} [${err.code}]\n`)
      if (err.hint !== undefined) io.stderr(`  hint: ${err.hint}\n`)
    }
  } else {
    const e = err as Error
    if (ctx?.out.json === true) io.stdout(JSON.stringify({ error: { code: 'INTERNAL', message: e.message } }) + '\n')
    io.stderr(`petal: internal error: ${e.stack ?? String(err)}\n  hint: this is a bug in Petal; please report it with the command you ran\n`)
  }
  return code
}
