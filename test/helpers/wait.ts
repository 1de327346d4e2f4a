/**
 * Poll `cond` until it is truthy (never a fixed sleep in tests). Fails after `timeout` ms, or,
 * with `progress`, after `timeout` ms during which `progress()` did not change (for long work
 * whose duration depends on the machine's load, e.g. a catch-up of hundreds of blocks).
 */
export async function waitFor<T> (cond: () => T | Promise<T>, o: { timeout?: number, interval?: number, what?: string, progress?: () => unknown } = {}): Promise<NonNullable<T>> {
  const timeout = o.timeout ?? 20_000
  let deadline = Date.now() + timeout
  let last = o.progress?.()
  for (;;) {
    const v = await cond()
    if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>
    const now = o.progress?.()
    if (now !== last) { last = now; deadline = Date.now() + timeout }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${o.what ?? 'condition'}${o.progress !== undefined ? ` (no progress for ${timeout} ms)` : ''}`)
    await new Promise(resolve => setTimeout(resolve, o.interval ?? 20))
  }
}
