/** Poll `cond` until it is truthy (never a fixed sleep in tests). */
export async function waitFor<T> (cond: () => T | Promise<T>, o: { timeout?: number, interval?: number, what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (o.timeout ?? 20_000)
  for (;;) {
    const v = await cond()
    if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${o.what ?? 'condition'}`)
    await new Promise(resolve => setTimeout(resolve, o.interval ?? 20))
  }
}
