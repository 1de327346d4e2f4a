import { isRecord, isStringArray, PetalError, registerErrorClass } from '../util/index.js'

export const CLI_ERROR_CODES = ['USAGE'] as const

/** `suggestions`: commands or options the user may have meant (from commander). */
export interface UsageDetails { suggestions?: string[] }

/** Usage problems found by a command itself (commander finds the rest). */
export class UsageError extends PetalError<'USAGE', UsageDetails> {
  static readonly codes = CLI_ERROR_CODES

  constructor (message: string, hint: string, details: UsageDetails = {}) {
    super('USAGE', message, { hint, details })
  }
}

registerErrorClass(UsageError, 'the command line is wrong: a flag, an argument or a file it names', () => ({
  USAGE: { meaning: 'an unknown command or option, or a bad argument', hint: 'run `petal --help`, or `petal COMMAND --help`' }
}), (message, o) => new UsageError(message, o.hint ?? 'run `petal --help`, or `petal COMMAND --help`', isRecord(o.details) && isStringArray(o.details.suggestions) ? { suggestions: o.details.suggestions } : {}))

export const OUTPUT_ERROR_CODES = ['OUTPUT_FAILED'] as const

/** `systemCode`: the errno name of the failed write (ENOSPC, EIO, …). */
export interface OutputDetails { systemCode?: string }

/**
 * A write to standard output failed other than because its reader went away (EPIPE ends with
 * 141): a full disk (`> file` on a full disk, `> /dev/full`), a file-size limit, a failing device.
 * The command stops there; its output is incomplete.
 */
export class OutputError extends PetalError<'OUTPUT_FAILED', OutputDetails> {
  static readonly codes = OUTPUT_ERROR_CODES

  constructor (code: 'OUTPUT_FAILED', message: string, o: { hint?: string, details?: OutputDetails, cause?: unknown } = {}) {
    super(code, message, o)
  }

  /** The error for a failed write of stdout, with a hint for its errno. */
  static of (err: NodeJS.ErrnoException): OutputError {
    const code = err.code ?? 'unknown'
    const done = 'the output is incomplete; what the command had done before (a block imported, rows appended) stays done: check with `petal status` before running it again'
    const where = code === 'ENOSPC' || code === 'EDQUOT'
      ? 'free space on the disk that stdout is written to, or redirect it elsewhere'
      : code === 'EFBIG'
        ? 'raise the file-size limit (`ulimit -f`) or redirect stdout elsewhere'
        : code === 'EIO'
          ? 'check the device stdout is written to (dmesg), or redirect it elsewhere'
          : 'redirect stdout to a file or a pipe'
    return new OutputError('OUTPUT_FAILED', `standard output could not be written: ${err.message}`, { hint: `${where}; ${done}`, details: { systemCode: code }, cause: err })
  }
}

registerErrorClass(OutputError, 'standard output could not be written', () => ({
  OUTPUT_FAILED: { meaning: 'a write to stdout failed (a full disk or /dev/full, a file-size limit, a failing device); the command stopped there and its output is incomplete. A reader that went away is not this: that ends with status 141', hint: 'free space where stdout goes, or redirect it elsewhere; what the command had done before it stopped stays done (check with `petal status` before running it again)' }
}))
