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
