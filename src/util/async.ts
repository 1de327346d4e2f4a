import { AbortError } from './errors.js'

/** Resolve after `ms`, or reject with AbortError when the signal fires. */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) throw new AbortError()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(new AbortError()) }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * `p`, or AbortError as soon as `signal` fires, whichever comes first. For waits on work that
 * cannot be interrupted itself (a worker thread's reply): the caller stops waiting at once.
 */
export async function abortable<T> (p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return await p
  if (signal.aborted) throw new AbortError()
  let onAbort!: () => void
  const aborted = new Promise<never>((_resolve, reject) => { onAbort = () => { reject(new AbortError()) } })
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await Promise.race([p, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** Waits that end as abortable's do, under one listener on the signal for all of them (abortWaits). */
export interface AbortWaits {
  /** `p`, or AbortError as soon as the signal fires, whichever comes first. */
  wait: <T>(p: Promise<T>) => Promise<T>
  /** Take the listener off the signal: later waits are no longer cut short by it. */
  dispose: () => void
}

/**
 * abortable for a loop of waits on one signal: one 'abort' listener for them all, added here and
 * removed by `dispose`, where abortable adds and removes one per wait. On Node's EventTarget that
 * pair (with the race's promise) cost ~10–20 µs of CPU a wait: `petal verify`'s in-order thread
 * waits once per batch of 16 small blocks, ~625 times on 10,001 blocks, a cost the CLI paid (it
 * passes its Ctrl-C signal) and an in-process run without a signal did not
 * (docs/performance/verify.md, "Session 49").
 */
export function abortWaits (signal?: AbortSignal): AbortWaits {
  if (signal === undefined) return { wait: async p => await p, dispose: () => {} }
  const waiting = new Set<(err: Error) => void>()
  const onAbort = (): void => { for (const reject of waiting) reject(new AbortError()) }
  signal.addEventListener('abort', onAbort, { once: true })
  return {
    wait: async <T>(p: Promise<T>): Promise<T> => {
      if (signal.aborted) throw new AbortError()
      let reject!: (err: Error) => void
      const settled = new Promise<T>((resolve, rej) => { reject = rej; p.then(resolve, rej) })
      waiting.add(reject)
      try {
        return await settled
      } finally {
        waiting.delete(reject)
      }
    },
    dispose: () => { signal.removeEventListener('abort', onAbort) }
  }
}

/** In-process mutual exclusion for async critical sections (FIFO). */
export class Mutex {
  private tail: Promise<void> = Promise.resolve()
  /** Turns taken or queued and not yet released (or passed on): 0 when the mutex is free. */
  private turns = 0

  async run<T> (fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire()
    try {
      return await fn()
    } finally {
      release()
    }
  }

  /**
   * Wait for the turn (AbortError when `signal` fires first: the turn then passes on untaken, once
   * the holders before it are done) and return its release. A free mutex is taken without
   * listening on the signal: an uncontended write (every local command's) then adds no listener,
   * and compiles none of event_target's listener code (docs/performance/startup.md, "Session 42: start-up").
   */
  async acquire (signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted === true) throw new AbortError()
    const prev = this.tail
    let release!: () => void
    let released = false
    this.tail = new Promise<void>(resolve => { release = () => { if (!released) { released = true; this.turns--; resolve() } } })
    if (++this.turns === 1) return release
    try {
      await abortable(prev, signal)
    } catch (err) {
      void prev.then(release)
      throw err
    }
    return release
  }
}
