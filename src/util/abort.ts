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
