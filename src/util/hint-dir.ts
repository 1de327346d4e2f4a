import { homedir } from 'node:os'
import { resolve } from 'node:path'
import type { LogRecord } from './logger.js'
import { shellWord } from './shell-word.js'

/**
 * A hint's `petal …` commands as the user has to type them. Errors are raised below the CLI, which
 * alone knows that the user named the data directory with --dir: a hint such as "rebuild it with
 * `petal reindex`", run as written, would act on $PETAL_DIR or ~/.petal, not on the directory the
 * error is about. So the CLI puts the user's `--dir DIR` into each such command before printing it
 * (its errors, and the log lines of the command, `petal run`'s included), and the HTTP API the
 * node's data directory unless it is the default ~/.petal (hintDirOf).
 *
 * Left as they are: commands that already name a directory, `petal --help`/`--version`, and the
 * commands a hint asks someone else to run on their own node (a signatory's `signkey` and
 * `signimportblock --keyops`, `keys export` of a signatory's key, `… on another node`), and
 * `verify-proof`, which reads no data directory.
 */
const ELSEWHERE = /^(?:signkey|keys export|signimportblock --keyops|verify-proof)\b/

export function hintWithDir (hint: string, dir: string | undefined): string {
  if (dir === undefined) return hint
  const d = shellWord(dir)
  return hint.replace(/`((?:npx )?petal) ([^`]*)`/g, (span: string, petal: string, rest: string, at: number) => {
    if (rest.startsWith('-') || /(?:^|\s)(?:--dir|-d)(?:\s|=|$)/.test(rest) || ELSEWHERE.test(rest)) return span
    if (/^ on (?:another|an other|the other|their) node/.test(hint.slice(at + span.length))) return span
    return `\`${petal} --dir ${d} ${rest}\``
  })
}

/**
 * The directory the HTTP API puts into its hints' commands: the node's data directory, unless it
 * is ~/.petal, which a `petal …` run without --dir and PETAL_DIR acts on. Not PETAL_DIR: the shell
 * that runs the hint need not have the node's environment.
 */
export function hintDirOf (dir: string): string | undefined {
  return resolve(dir) === resolve(homedir(), '.petal') ? undefined : dir
}

/** A log record with hintWithDir applied to its message and to each text of its context. */
export function logRecordWithDir (r: LogRecord, dir: string | undefined): LogRecord {
  if (dir === undefined) return r
  const context = r.context === undefined ? undefined : Object.fromEntries(Object.entries(r.context).map(([k, v]) => [k, typeof v === 'string' ? hintWithDir(v, dir) : v]))
  return { ...r, message: hintWithDir(r.message, dir), context }
}
