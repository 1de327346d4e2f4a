/** A signal linked to others and to an optional timeout; `dispose()` unlinks it. */
export interface LinkedSignal {
  readonly signal: AbortSignal
  /** True when the timeout fired (and none of the linked signals had aborted before). */
  timedOut: () => boolean
  /** Remove the listeners on the linked signals and the timer. Idempotent; call it in `finally`. */
  dispose: () => void
}

/**
 * A signal that aborts when any of `signals` does (with its reason) or after `timeoutMs`. It
 * replaces `AbortSignal.any`, which on Node 20 keeps every composite signal reachable from its
 * sources for their whole life (nodejs/node#55351): one per request on a node-lifetime signal
 * grows the heap without bound. This one holds a listener on each source only until it fires or
 * is disposed.
 */
export function linkSignals (signals: ReadonlyArray<AbortSignal | undefined>, timeoutMs?: number): LinkedSignal {
  const controller = new AbortController()
  const sources = signals.filter((s): s is AbortSignal => s !== undefined)
  let timer: NodeJS.Timeout | undefined
  let timedOut = false
  const onAbort = (evt: Event): void => {
    const src = evt.target instanceof AbortSignal ? evt.target : undefined
    abort(src?.reason)
  }
  const dispose = (): void => {
    clearTimeout(timer)
    timer = undefined
    for (const s of sources) s.removeEventListener('abort', onAbort)
  }
  const abort = (reason: unknown): void => {
    dispose()
    if (!controller.signal.aborted) controller.abort(reason)
  }
  const already = sources.find(s => s.aborted)
  if (already !== undefined) {
    controller.abort(already.reason)
  } else {
    for (const s of sources) s.addEventListener('abort', onAbort, { once: true })
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
