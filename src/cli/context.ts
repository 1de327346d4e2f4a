import { existsSync, realpathSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import type { TableRootPool } from '../block/index.js'
import { Chain } from '../chain/index.js'
import { sha256Hex, type SigningKey } from '../crypto/index.js'
import { DAISY_SOURCE_FILE, daisyReadOnly, DataDir, isDaisyDir, Keystore, leaveConnectionsAtExit, setSyncfsMode, showIndexMoves } from '../storage/index.js'
import { abortable, createLogger, formatLogRecord, isLogLevel, LazyAbort, logRecordWithDir, LOG_LEVELS, runStopSteps, writeOutputFile, type Logger, type LogLevel } from '../util/index.js'
import { createOutput, UsageError, type Output } from './output.js'
import { Progress, type ProgressMode } from './progress.js'
import { readInputFile } from './input.js'
import { outputFileFailure } from './output-failure.js'

export interface GlobalOptions {
  dir?: string
  state?: string
  json?: boolean
  key?: string
  passphraseFile?: string
  logLevel?: string
}

/** The process around the CLI, injected so tests can run commands in process. */
export interface CliIO {
  stdout: (s: string) => void
  /**
   * Undefined when stdout takes more at once; else a promise that settles once what it holds has
   * drained (a stalled pipe reader: a long answer then waits for it instead of filling memory).
   */
  stdoutBacklog?: () => Promise<void> | undefined
  stderr: (s: string) => void
  env: Record<string, string | undefined>
  stderrIsTTY: boolean
  /** Root of the installed package (for genesis/ templates). */
  packageRoot: string
  /**
   * The process ends once the command has returned (start.ts; not a test running commands in
   * process): chain.db's and query.db's connections still open then are left to the exit, with
   * their -wal files (storage's leaveConnectionsAtExit).
   */
  exitsAfter?: boolean
}

/** Commands that work on a Daisy directory (read-only; docs/daisy.md). */
export const DAISY_COMMANDS: ReadonlySet<string> = new Set(['status', 'verify', 'blocks', 'block', 'signers', 'query', 'serve'])

/**
 * The Daisy directory `root` is Petal's state of, if it is one. A daisy-source.json that cannot be
 * read is left to the command's own open to report (a directory this user may not read, …).
 */
function daisySourceOf (root: string): string | undefined {
  try {
    return new DataDir(root).daisySource
  } catch {
    return undefined
  }
}

/** A Daisy directory given as --dir, and where Petal keeps its derived state of it. */
export interface DaisyTarget { dir: string, state: string }

/**
 * Where Petal keeps its state of a Daisy directory unless --state says: beside it when it is the
 * daisy/ of an adopted chain (adopt-daisy wrote daisy-state/ there), else
 * ~/.petal/daisy-state/<first 16 hex digits of sha256(its real path)>.
 */
export function defaultDaisyState (daisyDir: string): string {
  const beside = join(dirname(daisyDir), 'daisy-state')
  // Also when daisy-state/ was removed (safe: derived): a daisy/ beside a chain.db is an adopted
  // chain's copy, whose state is rebuilt there, not in ~/.petal (review31).
  if (basename(daisyDir) === 'daisy' && (existsSync(join(beside, DAISY_SOURCE_FILE)) || existsSync(new DataDir(dirname(daisyDir)).chainDb))) return beside
  return resolve(homedir(), '.petal', 'daisy-state', sha256Hex(realpathSync(daisyDir)).slice(0, 16))
}

/** Everything a command needs: resolved data directory, output, logger, keys, cancellation. */
export class CliContext {
  private dataRoot: string
  /** Set when --dir is a Daisy directory: the command then runs on its derived state (`dir`). */
  daisy: DaisyTarget | undefined
  readonly out: Output
  readonly logger: Logger
  private readonly closers: Array<() => void | Promise<void>> = []
  private readonly bars: Progress[] = []
  /**
   * What brings a Daisy directory's derived state up to date before the command runs: the
   * command module's `refreshDaisy` (hashing.ts), set by runCli. Not imported here, so that a
   * command that never hashes does not carry the Daisy indexer and the table hashers.
   */
  refreshDaisy?: (ctx: CliContext) => Promise<unknown>

  /**
   * `command`: the command's name (`status`, `keys import`), for what a Daisy directory allows.
   * `abort`: the command's abort signal, or the abort that makes it at first use (runCli).
   */
  constructor (readonly opts: GlobalOptions, readonly io: CliIO, private readonly abort: AbortSignal | LazyAbort, defaultLogLevel: LogLevel = 'warn', readonly command = '') {
    this.dataRoot = resolve(opts.dir ?? io.env.PETAL_DIR ?? resolve(homedir(), '.petal'))
    // How a group's placement flushes its files (docs/data-directory.md, "Crash safety").
    if (!setSyncfsMode(io.env.PETAL_SYNCFS)) {
      throw new UsageError(`unknown PETAL_SYNCFS value ${JSON.stringify(io.env.PETAL_SYNCFS)}`, 'set PETAL_SYNCFS=0 (never syncfs), PETAL_SYNCFS=1 (every group) or PETAL_SYNCFS=auto (the default, as when unset): docs/data-directory.md, "Crash safety"')
    }
    // Whatever the command prints takes a progress line off the terminal first (it is redrawn
    // below at its next update), so that a log line or a result never lands in the middle of it.
    const stdout = (s: string): void => { this.clearProgress(); io.stdout(s) }
    const stderr = (s: string): void => { this.clearProgress(); io.stderr(s) }
    this.out = createOutput(opts.json === true, { stdout, stderr })
    const level = opts.logLevel ?? io.env.PETAL_LOG_LEVEL ?? defaultLogLevel
    if (!isLogLevel(level)) throw new UsageError(`unknown log level ${JSON.stringify(level)}`, `use one of ${LOG_LEVELS.join(', ')}`)
    // A log line's `petal …` commands name the user's --dir, as its errors' hints do (`petal run`'s too).
    this.logger = createLogger(r => { stderr(formatLogRecord(logRecordWithDir(r, opts.dir)) + '\n') }, level)
    // A writer's move of an older chain.db to the current schema (seconds at a million blocks) on a terminal, or with
    // --json; nothing on a pipe or in a log (docs/data-directory.md, "chain.db").
    showIndexMoves(() => this.progress('chain.db', undefined, opts.json === true ? 'json' : io.stderrIsTTY ? 'tty' : 'off'))
  }

  /** Aborted by Ctrl-C, SIGTERM or a failed write of stdout (start.ts). */
  get signal (): AbortSignal { return this.abort instanceof LazyAbort ? this.abort.signal : this.abort }

  /**
   * The same abort for Petal's own checks (a write's lock options): it makes no AbortController
   * until something listens (util/lazy-abort.ts). Never for Node's or a package's APIs.
   */
  get probe (): AbortSignal { return this.abort instanceof LazyAbort ? this.abort.probe : this.abort }

  /** The data directory; for a Daisy directory, Petal's derived state of it (see `daisy`). */
  get dir (): string { return this.dataRoot }

  get dataDir (): DataDir { return new DataDir(this.dir) }

  keystore (): Keystore {
    return new Keystore(this.dataDir.keystore)
  }

  /**
   * Write a file the user named for output (util's writeOutputFile): /dev/stdout and /dev/stderr
   * go after what the command printed, through its own writers, and a slow reader of stdout is
   * waited for in the event loop (Ctrl-C is seen), as a long answer is. A failure is a UsageError
   * with `hint`; an interrupted wait is the interruption.
   */
  async writeOutputFile (path: string, text: string, hint: string): Promise<void> {
    try {
      await writeOutputFile(path, text, {
        signal: this.signal,
        // The data directory's files are Petal's: the note over a key file lost the key (review32).
        outside: this.daisy === undefined ? [this.dir] : [this.dir, this.daisy.dir],
        descriptors: {
          1: async s => {
            this.out.stdout(s)
            const held = this.io.stdoutBacklog?.()
            if (held !== undefined) await abortable(held, this.signal)
          },
          2: async s => { this.out.stderr(s) }
        }
      })
    } catch (err) {
      if (this.signal.aborted) throw err
      throw outputFileFailure(path, err, hint)
    }
  }

  private passphraseText?: string

  /**
   * Read what the command's global options name before the command runs: the --passphrase-file
   * (a file, or a stream such as `<(pass show petal)`, read without blocking so Ctrl-C works).
   */
  async prepare (): Promise<void> {
    await this.prepareDaisy()
    const file = this.opts.passphraseFile
    if (file === undefined) return
    const text = (await readInputFile(file, '--passphrase-file', this.signal, 64 * 1024)).toString('utf8').replace(/\r?\n$/, '')
    // An empty file would silently mean "no encryption": a user who names a file wants one.
    if (text === '') throw new UsageError(`--passphrase-file ${file} is empty`, 'write the passphrase into it, or leave the flag out to store keys unencrypted')
    this.passphraseText = text
  }

  /**
   * --dir names a Daisy directory, or Petal's state of one (its daisy-source.json names the Daisy
   * directory): allow only the commands that read, switch the data directory to the derived state
   * (--state), and bring that state up to date (verify checks for itself).
   */
  private async prepareDaisy (): Promise<void> {
    const state = this.opts.state
    if (!isDaisyDir(this.dataRoot)) {
      if (state !== undefined) throw new UsageError('--state applies to a Daisy data directory', `${this.dataRoot} is not one (no daisy.db, no blocks/0000/block_00000000.db)`)
      // Petal's state of a Daisy directory given as --dir: its block files are Daisy's, which a
      // reindex read as Petal's ("seal file missing"), verify as Petal's, and a write would act on
      // (session 56). Read through the Daisy directory it names, as `--dir DAISY --state STATE`.
      const source = daisySourceOf(this.dataRoot)
      if (source === undefined) return
      if (!DAISY_COMMANDS.has(this.command)) throw daisyReadOnly(source, this.dataRoot, 'state', this.command)
      this.daisy = { dir: source, state: this.dataRoot }
    } else {
      if (!DAISY_COMMANDS.has(this.command)) {
        throw daisyReadOnly(this.dataRoot, resolve(state ?? defaultDaisyState(this.dataRoot)), 'daisy', this.command, [...DAISY_COMMANDS])
      }
      this.daisy = { dir: this.dataRoot, state: resolve(state ?? defaultDaisyState(this.dataRoot)) }
      this.dataRoot = this.daisy.state
    }
    if (this.command === 'verify') return
    if (this.refreshDaisy === undefined) throw new Error(`petal ${this.command}: its command module exports no refreshDaisy, which a command that reads a Daisy directory needs`)
    await this.refreshDaisy(this)
  }

  /** The passphrase for encrypted keys: --passphrase-file, else $PETAL_PASSPHRASE. Never a flag value. */
  passphrase (): string | undefined {
    if (this.opts.passphraseFile !== undefined) {
      if (this.passphraseText === undefined) throw new Error('CliContext.prepare() was not run')
      return this.passphraseText
    }
    return this.io.env.PETAL_PASSPHRASE
  }

  /** The signing key chosen with --key (id or unique prefix), else the keystore's default. */
  loadKey (): SigningKey {
    return this.keystore().load(this.opts.key, this.passphrase())
  }

  /**
   * Open the data directory's chain. `forReading`: the command only reads, so chain.db is opened
   * read-only: it never waits for a writer (a long import, a reindex), and works on a directory
   * this user cannot write (an archive, another user's node). `hashPool`: threads for checking
   * or building blocks with large tables (hashing.ts's openChain gives the command's); without
   * one the chain hashes on this thread, which only matters to a command that imports blocks.
   */
  openChain (options: { forReading?: boolean, hashPool?: TableRootPool } = {}): Chain {
    const chain = Chain.open(this.dir, { logger: this.logger, readonly: options.forReading === true, hashPool: options.hashPool })
    this.onClose(() => { chain.close() })
    return chain
  }

  onClose (fn: () => void | Promise<void>): void {
    this.closers.push(fn)
  }

  /** Run every closer (last registered first), even when one fails; the first failure is thrown. */
  async close (): Promise<void> {
    this.endProgress()
    if (this.io.exitsAfter === true) leaveConnectionsAtExit()
    await runStopSteps(this.closers.splice(0).reverse().map(f => ['closing', f] as const), this.logger)
  }

  /**
   * A progress display on stderr for `label`'s work, in bytes unless `unit` says otherwise: one
   * line redrawn on a terminal, plain lines when stderr is a pipe or file, JSON lines with --json.
   */
  progress (label: string, unit?: string, mode: ProgressMode = this.out.json ? 'json' : this.io.stderrIsTTY ? 'tty' : 'lines'): Progress {
    const p = new Progress({ label, unit, mode, write: this.io.stderr })
    this.bars.push(p)
    return p
  }

  private clearProgress (): void {
    for (const p of this.bars) p.clear()
  }

  /** End every progress display (before an error is printed, so that it starts on a line of its own). */
  endProgress (): void {
    for (const p of this.bars.splice(0)) p.end()
  }
}
