/**
 * Wake a waiting loop: `wait` resolves on the next `notify`, after `ms`, or on abort. One loop
 * waits at a time (a second `wait` before the first resolves ends the first as a timeout).
 *
 * A catch-up's download loop waits ~1.5 times per block and is mostly woken by `notify`: one
 * timer and one abort listener are kept across waits (a timer, a listener and a closure per
 * wait cost more than the rest of the wake-up), the timer due no later than the waiter's time
 * and moved forward by itself when it fires early; it holds the process only while a loop waits.
 * The loop calls dispose() when it ends (the listener stays on its signal until then).
 */
export class Notifier {
  private waiter: ((v: boolean) => void) | undefined
  /** When the waiter's `ms` runs out (performance.now()). */
  private due = 0
  private pending = false
  private timer: NodeJS.Timeout | undefined
  /** When the timer fires (it may be before `due`: it then re-arms for the rest). */
  private timerAt = Infinity
  private signal: AbortSignal | undefined
  private readonly onAbort = (): void => { this.settle(false) }
  private readonly onTimer = (): void => {
    this.timer = undefined
    this.timerAt = Infinity
    if (this.waiter === undefined) return
    const left = this.due - performance.now()
    if (left <= 0) this.settle(false)
    else this.arm(left)
  }

  notify (): void {
    this.pending = true
    this.settle(true)
  }

  /** Resolves true if notified (also by a notify that came while not waiting), false on timeout. */
  async wait (ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.pending) { this.pending = false; return true }
    if (signal?.aborted === true) return false
    this.settle(false)
    if (signal !== this.signal) {
      this.signal?.removeEventListener('abort', this.onAbort)
      signal?.addEventListener('abort', this.onAbort)
      this.signal = signal
    }
    this.due = performance.now() + ms
    if (this.timer !== undefined && this.timerAt <= this.due) this.timer.ref()
    else this.arm(ms)
    return await new Promise<boolean>(resolve => { this.waiter = resolve })
  }

  /** End a wait in progress (as a timeout), drop the timer and the abort listener: the signal may outlive this loop. */
  dispose (): void {
    this.settle(false)
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = Infinity
    this.signal?.removeEventListener('abort', this.onAbort)
    this.signal = undefined
  }

  private arm (ms: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(this.onTimer, ms)
    this.timerAt = performance.now() + ms
  }

  /** Resolve the waiter, if any; a timer left armed no longer holds the process. */
  private settle (v: boolean): void {
    const w = this.waiter
    if (w === undefined) return
    this.waiter = undefined
    if (v) this.pending = false
    this.timer?.unref()
    w(v)
  }
}
