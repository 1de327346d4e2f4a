/**
 * Base class of every error Petal throws on purpose. `code` is stable API: the network maps it to
 * ignore/reject, the CLI maps it to an exit status and prints `hint`.
 */
export class PetalError<C extends string = string> extends Error {
  readonly code: C
  readonly hint?: string
  readonly details: Readonly<Record<string, unknown>>

  constructor (code: C, message: string, options: { hint?: string, details?: Record<string, unknown>, cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.hint = options.hint
    this.details = options.details ?? {}
  }

  toJSON (): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, hint: this.hint, ...this.details }
  }
}

/** Thrown when an operation is cancelled through its AbortSignal (Ctrl-C, shutdown, timeout). */
export class AbortError extends PetalError<'ABORTED'> {
  constructor (message = 'operation aborted') {
    super('ABORTED', message)
  }
}

export function isPetalError (err: unknown): err is PetalError {
  return err instanceof PetalError
}

export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) throw new AbortError()
}
