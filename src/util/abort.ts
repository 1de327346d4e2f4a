/** A signal linked to others and to an optional timeout; `dispose()` unlinks it. */
export interface LinkedSignal {
  readonly signal: AbortSignal
  /** True when the timeout fired (and none of the linked signals had aborted before). */
  timedOut: () => boolean
  /** Remove the subscriptions on the linked signals and the timer. Idempotent; call it in `finally`. */
  dispose: () => void
}

/** The signals linked to one source: a single 'abort' listener on the source serves them all. */
interface Fanout { readonly subscribers: Set<(reason: unknown) => void>, readonly onAbort: () => void }
const fanouts = new WeakMap<AbortSignal, Fanout>()

/** Call `fn` when `source` aborts; returns the unsubscribe function. */
function subscribe (source: AbortSignal, fn: (reason: unknown) => void): () => void {
  let f = fanouts.get(source)
  if (f === undefined) {
    const subscribers = new Set<(reason: unknown) => void>()
    const onAbort = (): void => {
      fanouts.delete(source)
      for (const s of [...subscribers]) s(source.reason)
    }
    f = { subscribers, onAbort }
    fanouts.set(source, f)
    source.addEventListener('abort', onAbort, { once: true })
  }
  const fo = f
  fo.subscribers.add(fn)
  return () => {
    fo.subscribers.delete(fn)
    if (fo.subscribers.size === 0 && fanouts.get(source) === fo) {
      fanouts.delete(source)
      source.removeEventListener('abort', fo.onAbort)
    }
  }
}

/**
 * A signal that aborts when any of `signals` does (with its reason) or after `timeoutMs`. It
 * replaces `AbortSignal.any`, which on Node 20 keeps every composite signal reachable from its
 * sources for their whole life (nodejs/node#55351): one per request on a node-lifetime signal
 * grows the heap without bound. This one is subscribed to each source only until it fires or is
 * disposed, and however many requests share a source, the source carries one listener (so Node's
 * MaxListeners warning never fires for a busy node).
 */
export function linkSignals (signals: ReadonlyArray<AbortSignal | undefined>, timeoutMs?: number): LinkedSignal {
  const controller = new AbortController()
  const sources = signals.filter((s): s is AbortSignal => s !== undefined)
  let timer: NodeJS.Timeout | undefined
  let timedOut = false
  let unsubscribe: Array<() => void> = []
  const dispose = (): void => {
    clearTimeout(timer)
    timer = undefined
    for (const u of unsubscribe) u()
    unsubscribe = []
  }
  const abort = (reason: unknown): void => {
    dispose()
    if (!controller.signal.aborted) controller.abort(reason)
  }
  const already = sources.find(s => s.aborted)
  if (already !== undefined) {
    controller.abort(already.reason)
  } else {
    unsubscribe = sources.map(s => subscribe(s, abort))
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true
        abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
      }, timeoutMs)
      timer.unref()
    }
  }
  return { signal: controller.signal, timedOut: () => timedOut, dispose }
}

/** The longest delay setTimeout takes as it is (a later deadline's timer fires then and re-checks). */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * One signal and one timer for a sequence of deadlines (the reply frames and blocks of a range
 * request, the rate floor's window of each read): `armAt` moves the deadline and costs neither a
 * timer nor a controller of its own (a linked signal and a timer per read cost more than a small
 * block's bytes). Aborts once, when the deadline in force passes (TimeoutError; `firedBy` names
 * the deadline's cause) or when `parent` aborts (with its reason). `dispose()` in `finally`.
 */
export class Watchdog {
  private readonly controller = new AbortController()
  private unsubscribe: (() => void) | undefined
  private timer: NodeJS.Timeout | undefined
  /** When the pending timer fires (it re-checks the deadline then). */
  private timerAt = Infinity
  private due = Infinity
  private cause = ''
  private fired: string | undefined

  constructor (parent?: AbortSignal) {
    if (parent?.aborted === true) this.controller.abort(parent.reason)
    else if (parent !== undefined) this.unsubscribe = subscribe(parent, reason => { this.stop(); this.controller.abort(reason) })
  }

  get signal (): AbortSignal { return this.controller.signal }

  /** True when a deadline fired (and the parent had not aborted before). */
  timedOut (): boolean { return this.fired !== undefined }

  /** The cause of the deadline that fired, if one did. */
  firedBy (): string | undefined { return this.fired }

  /** From now on, abort at `performance.now()` time `due` unless armed again before; replaces the deadline in force. */
  armAt (due: number, cause: string): void {
    if (this.controller.signal.aborted) return
    this.due = due
    this.cause = cause
    // A timer that fires earlier re-checks the deadline then: only a later one must be replaced.
    if (this.timer !== undefined && this.timerAt <= due) return
    this.schedule()
  }

  /** armAt, `ms` from now. */
  arm (ms: number, cause: string): void { this.armAt(performance.now() + ms, cause) }

  dispose (): void {
    this.due = Infinity
    this.stop()
  }

  private schedule (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = this.due
    // No deadline in force (armed at Infinity while the disk works): no timer. setTimeout takes
    // Infinity (or anything above 2^31 − 1 ms) for 1 ms and prints a TimeoutOverflowWarning.
    if (this.due === Infinity) return
    this.timer = setTimeout(() => { this.check() }, Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(this.due - performance.now()))))
    this.timer.unref()
  }

  private check (): void {
    this.timer = undefined
    this.timerAt = Infinity
    if (this.due === Infinity || this.controller.signal.aborted) return
    if (performance.now() < this.due) { this.schedule(); return }
    this.fired = this.cause
    this.stop()
    this.controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
  }

  private stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.unsubscribe?.()
    this.unsubscribe = undefined
  }
}
