import type { Said, Span } from './said.js'

/**
 * Petal's error namespace (docs/errors.md). Every error thrown on purpose is a PetalError subclass
 * with a stable `code` that is unique across the whole code base, a message, an optional `hint`
 * the user can act on, and `details` typed per code. Each module declares its class in its own
 * `errors.ts`: the list of its codes, a details shape per code, and a registration here, so that
 * an error crossing a thread or process boundary comes back as its own class (`reviveError`).
 * Exit and HTTP statuses are derived from the class and code in `error-status.ts`.
 */

/** `details` of an error: a plain object whose shape depends on the code. */
export type Details = object

/**
 * What of an error is quoted rather than the node's own words (util/said.ts): ranges of its message
 * and of its hint, and the fields of its details that hold a request's text or the chain's data.
 */
export interface Quoted {
  message?: readonly Span[]
  hint?: readonly Span[]
  details?: readonly string[]
}

export interface PetalErrorOptions<D extends Details = Details> {
  hint?: string | Said | undefined
  details?: D
  cause?: unknown
  /** the details' fields that are quoted; ranges only when reviving an error (a message or hint given as `Said` carries its own) */
  quoted?: Quoted | undefined
}

/**
 * The options argument of an error constructor: optional when every field of the code's details
 * is optional, required (with `details`) when the code promises a field.
 */
export type PetalErrorArgs<D extends Details> = Record<never, never> extends D
  ? [options?: PetalErrorOptions<D>]
  : [options: PetalErrorOptions<D> & { details: D }]

/** Base class of every error Petal throws on purpose. */
export class PetalError<C extends string = string, D extends Details = Details> extends Error {
  readonly code: C
  readonly hint: string | undefined
  readonly details: Readonly<D>
  /** what of the message, hint and details is quoted (undefined: all the node's own words) */
  readonly quoted: Quoted | undefined

  constructor (code: C, message: string | Said, ...[options]: PetalErrorArgs<D>) {
    super(typeof message === 'string' ? message : message.text, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    const hint = options?.hint
    this.hint = typeof hint === 'object' ? hint.text : hint
    this.quoted = quotedOf(typeof message === 'object' ? message.quotes : options?.quoted?.message, typeof hint === 'object' ? hint.quotes : options?.quoted?.hint, options?.quoted?.details)
    // PetalErrorArgs demands `details` whenever D has a required field, so {} is a D here.
    this.details = options?.details ?? ({} as D)
  }

  toJSON (): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, hint: this.hint, ...this.details }
  }
}

function quotedOf (message: readonly Span[] | undefined, hint: readonly Span[] | undefined, details: readonly string[] | undefined): Quoted | undefined {
  const q: Quoted = {
    ...(message === undefined || message.length === 0 ? {} : { message }),
    ...(hint === undefined || hint.length === 0 ? {} : { hint }),
    ...(details === undefined || details.length === 0 ? {} : { details })
  }
  return Object.keys(q).length === 0 ? undefined : q
}

/** Thrown when an operation is cancelled through its AbortSignal (Ctrl-C, shutdown, timeout). */
export class AbortError extends PetalError<'ABORTED', Record<never, never>> {
  static readonly codes = ['ABORTED'] as const

  constructor (message = 'operation aborted') {
    super('ABORTED', message)
  }
}

/** A worker thread died (crashed, exited, ran out of memory) while it ran a task (util/worker-pool.ts). */
export class WorkerError extends PetalError<'WORKER_DIED', { exitCode: number }> {
  static readonly codes = ['WORKER_DIED'] as const
}

export function isPetalError (err: unknown): err is PetalError {
  return err instanceof PetalError
}

export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) throw new AbortError()
}

// ---- the registry: every error class by name ----

/** What a code means and, in general, what to do about it (docs/errors.md). */
export interface CodeDoc {
  meaning: string
  /** The usual remedy; a throw site may give a more specific hint. */
  hint?: string
}

/** What the registry knows of an error class. */
export interface ErrorClass {
  readonly name: string
  /** Every code the class may carry (the exported list in its module). */
  readonly codes: readonly string[]
  /** One line on what the class is about. */
  readonly about: string
  readonly docs: Readonly<Record<string, CodeDoc>>
}

/** The options an error is revived with (reviveError): its hint as text. */
export type RevivedOptions = PetalErrorOptions & { hint?: string | undefined }

/** A class with the standard constructor `(code, message, options)`. */
type StandardClass = abstract new (code: never, message: string, ...rest: never[]) => PetalError

interface Registered extends Omit<ErrorClass, 'docs'> {
  docs: () => Readonly<Record<string, CodeDoc>>
  make: (code: string, message: string, options: RevivedOptions) => PetalError
}

const registry = new Map<string, Registered>()

/**
 * Register an error class under its name, so that an error revived from another thread or process
 * comes back as that class. Each module's `errors.ts` registers its class when it is loaded; a
 * thread that can test for a class (`instanceof`) has loaded it. `make` is for the few classes
 * whose constructor does not take `(code, message, options)`.
 */
export function registerErrorClass<C extends string> (
  cls: StandardClass & { readonly codes: readonly C[] },
  about: string,
  // A function, called only by errorClasses() (the docs script): the tables' ~500 object literals
  // cost every command's start ~3 M instructions when built at load (docs/performance/import.md,
  // "Session 21: the 100-row import").
  docs: () => Readonly<Record<C, CodeDoc>>,
  make?: (message: string, options: RevivedOptions) => PetalError
): void {
  if (registry.has(cls.name)) throw new Error(`two error classes named ${cls.name}`)
  registry.set(cls.name, {
    name: cls.name,
    codes: cls.codes,
    about,
    docs,
    make: (code, message, options) => {
      if (make !== undefined) return make(message, options)
      // The code was checked against the class's list; details come from our own code base.
      const e: unknown = Reflect.construct(cls, [code, message, options])
      if (!(e instanceof PetalError)) throw new TypeError(`${cls.name} is not a PetalError`)
      return e
    }
  })
}

registerErrorClass(AbortError, 'an operation was cancelled (Ctrl-C, shutdown)', () => ({
  ABORTED: { meaning: 'the operation was cancelled (Ctrl-C, SIGTERM, shutdown); a write in progress was rolled back', hint: 'run the command again to finish it' }
}), message => new AbortError(message))

registerErrorClass(WorkerError, 'a worker thread died while it ran a task', () => ({
  WORKER_DIED: { meaning: 'a worker thread died (crashed, exited, ran out of memory) while it ran a task; the task failed and the thread was replaced', hint: 'run the command again (if it keeps failing, the machine may be short of memory)' }
}))

/**
 * The hint to show with `err`: its own, else the usual remedy documented for its code
 * (docs/errors.md), for an error thrown without one (a block check deep in validation). The CLI
 * and the HTTP API's error replies both show this. Builds the class's code table only when the
 * error has no hint, so for the error path only.
 */
export function hintOf (err: PetalError): string | undefined {
  if (err.hint !== undefined) return err.hint
  const hint = registry.get(err.name)?.docs()[err.code]?.hint
  return hint === '' ? undefined : hint
}

/** Every registered error class (those whose modules are loaded), in registration order. */
export function errorClasses (): ErrorClass[] {
  return [...registry.values()].map(({ name, codes, about, docs }) => ({ name, codes, about, docs: docs() }))
}

/** An error as it crosses a thread or process boundary (structured clone: bigints survive). */
export interface SerializedError {
  /** Class name: a registered PetalError subclass, or the `name` of any other Error. */
  class: string
  code?: string
  message: string
  hint?: string | undefined
  details?: Details
  quoted?: Quoted
}

export function serializeError (err: unknown): SerializedError {
  if (err instanceof PetalError) return { class: err.name, code: err.code, message: err.message, hint: err.hint, details: { ...err.details }, ...(err.quoted === undefined ? {} : { quoted: err.quoted }) }
  if (err instanceof Error) return { class: err.name, message: err.message }
  return { class: 'Error', message: String(err) }
}

/**
 * The error `s` describes, as its own class when that class is registered here; otherwise a
 * PetalError (or Error) carrying the same name, code, message, hint and details.
 */
export function reviveError (s: SerializedError): Error {
  const options = { hint: s.hint, details: s.details ?? {}, quoted: s.quoted }
  if (s.code === undefined) {
    const e = new Error(s.message)
    e.name = s.class
    return e
  }
  const cls = registry.get(s.class)
  if (cls !== undefined && cls.codes.includes(s.code)) return cls.make(s.code, s.message, options)
  const e = new PetalError(s.code, s.message, options)
  e.name = s.class
  return e
}

/** A copy of `err` with `extra` added to its details (fields it already has are kept). */
export function withDetails (err: PetalError, extra: Details): Error {
  return reviveError({ ...serializeError(err), details: { ...extra, ...err.details } })
}
