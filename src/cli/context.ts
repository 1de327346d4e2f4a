import { accessSync, constants } from 'node:fs'
import { homedir } from 'node:os'
import { resolve } from 'node:path'
import { TableRootPool } from '../block/index.js'
import { Chain } from '../chain/index.js'
import type { SigningKey } from '../crypto/index.js'
import { DataDir, Keystore } from '../storage/index.js'
import { createLogger, errorMessage, formatLogRecord, isLogLevel, LOG_LEVELS, runStopSteps, type Logger, type LogLevel } from '../util/index.js'
import { createOutput, UsageError, type Output } from './output.js'
import { Progress } from './progress.js'
import { readInputFile } from './input.js'

export interface GlobalOptions {
  dir?: string
  json?: boolean
  key?: string
  passphraseFile?: string
  logLevel?: string
}

/** The process around the CLI, injected so tests can run commands in process. */
export interface CliIO {
  stdout: (s: string) => void
  stderr: (s: string) => void
  env: Record<string, string | undefined>
  stderrIsTTY: boolean
  /** Root of the installed package (for genesis/ templates). */
  packageRoot: string
}


/** Everything a command needs: resolved data directory, output, logger, keys, cancellation. */
export class CliContext {
  readonly dir: string
  readonly out: Output
  readonly logger: Logger
  private readonly closers: Array<() => void | Promise<void>> = []
  private readonly bars: Progress[] = []
  private pool: TableRootPool | undefined

  constructor (readonly opts: GlobalOptions, readonly io: CliIO, readonly signal: AbortSignal, defaultLogLevel: LogLevel = 'warn') {
    this.dir = resolve(opts.dir ?? io.env.PETAL_DIR ?? resolve(homedir(), '.petal'))
    // Whatever the command prints takes a progress line off the terminal first (it is redrawn
    // below at its next update), so that a log line or a result never lands in the middle of it.
    const stdout = (s: string): void => { this.clearProgress(); io.stdout(s) }
    const stderr = (s: string): void => { this.clearProgress(); io.stderr(s) }
    this.out = createOutput(opts.json === true, { stdout, stderr })
    const level = opts.logLevel ?? io.env.PETAL_LOG_LEVEL ?? defaultLogLevel
    if (!isLogLevel(level)) throw new UsageError(`unknown log level ${JSON.stringify(level)}`, `use one of ${LOG_LEVELS.join(', ')}`)
    this.logger = createLogger(r => { stderr(formatLogRecord(r) + '\n') }, level)
  }

  get dataDir (): DataDir { return new DataDir(this.dir) }

  keystore (): Keystore {
    return new Keystore(this.dataDir.keystore)
  }

  private passphraseText?: string

  /**
   * Read what the command's global options name before the command runs: the --passphrase-file
   * (a file, or a stream such as `<(pass show petal)`, read without blocking so Ctrl-C works).
   */
  async prepare (): Promise<void> {
    const file = this.opts.passphraseFile
    if (file === undefined) return
    const text = (await readInputFile(file, '--passphrase-file', this.signal, 64 * 1024)).toString('utf8').replace(/\r?\n$/, '')
    // An empty file would silently mean "no encryption": a user who names a file wants one.
    if (text === '') throw new UsageError(`--passphrase-file ${file} is empty`, 'write the passphrase into it, or leave the flag out to store keys unencrypted')
    this.passphraseText = text
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
   * this user cannot write (an archive, another user's node).
   */
  openChain (options: { forReading?: boolean } = {}): Chain {
    const chain = Chain.open(this.dir, { logger: this.logger, readonly: options.forReading === true, hashPool: this.hashPool() })
    this.onClose(() => { chain.close() })
    return chain
  }

  /**
   * The command's table-hashing threads (for building and checking blocks with large tables),
   * created on first use and closed with the context, after everything opened later.
   */
  hashPool (): TableRootPool {
    if (this.pool === undefined) {
      const pool = new TableRootPool()
      this.onClose(async () => { await pool.close() })
      this.pool = pool
    }
    return this.pool
  }

  onClose (fn: () => void | Promise<void>): void {
    this.closers.push(fn)
  }

  /** Run every closer (last registered first), even when one fails; the first failure is thrown. */
  async close (): Promise<void> {
    this.endProgress()
    await runStopSteps(this.closers.splice(0).reverse().map(f => ['closing', f] as const), this.logger)
  }

  /**
   * A progress display on stderr for `label`'s work, in bytes unless `unit` says otherwise: one
   * line redrawn on a terminal, plain lines when stderr is a pipe or file, JSON lines with --json.
   */
  progress (label: string, unit?: string): Progress {
    const p = new Progress({ label, unit, mode: this.out.json ? 'json' : this.io.stderrIsTTY ? 'tty' : 'lines', write: this.io.stderr })
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

/** Whether this process may create files in `dir` (SQLite needs that for its -wal and -shm files). */
export function canWrite (dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK)
    return true
  } catch {
    return false
  }
}
