/** Wake a waiting loop: `wait` resolves on the next `notify`, after `ms`, or on abort. */
export class Notifier {
  private waiters: Array<() => void> = []
  private pending = false

  notify (): void {
    this.pending = true
    for (const w of this.waiters.splice(0)) w()
  }

  /** Resolves true if notified (also by a notify that came while not waiting), false on timeout. */
  async wait (ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.pending) { this.pending = false; return true }
    if (signal?.aborted === true) return false
    return await new Promise<boolean>(resolve => {
      const done = (v: boolean): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.waiters = this.waiters.filter(w => w !== wake)
        if (v) this.pending = false
        resolve(v)
      }
      const wake = (): void => { done(true) }
      const onAbort = (): void => { done(false) }
      const timer = setTimeout(() => { done(false) }, ms)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(wake)
    })
  }
}
