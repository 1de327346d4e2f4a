import { isRecord, isStringArray, PetalError, registerErrorClass } from '../util/index.js'

export const CLI_ERROR_CODES = ['USAGE'] as const

/** `suggestions`: commands or options the user may have meant (from commander). */
export interface UsageDetails { suggestions?: string[] }

/** Usage problems found by a command itself (commander finds the rest). */
export class UsageError extends PetalError<'USAGE', UsageDetails> {
  static readonly codes = CLI_ERROR_CODES

  constructor (message: string, hint?: string, details: UsageDetails = {}) {
    super('USAGE', message, { hint, details })
  }
}

registerErrorClass(UsageError, 'the command line is wrong: a flag, an argument or a file it names', () => ({
  USAGE: { meaning: 'an unknown command or option, or a bad argument', hint: 'run `petal --help`, or `petal COMMAND --help`' }
}), (message, o) => new UsageError(message, o.hint, isRecord(o.details) && isStringArray(o.details.suggestions) ? { suggestions: o.details.suggestions } : {}))
