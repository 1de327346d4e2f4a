/**
 * How many bytes a range receive asks its byte stream for next. The rate floor reads one quota
 * (`bytesPerSecond × windowMs`) at a time, each within its window; but a yamux frame arrives
 * whole (a fast link's range comes in 1 MiB frames, upload-links.ts), so after the read that
 * waited for a frame, the rest of it is buffered and the floor's next reads would each complete
 * at once. Those are asked for in one read: every whole quota already buffered, or the rest of the
 * block once it is all there. One read, one hash round and one file write where there were six
 * (docs/performance/pull.md, "Session 39: the 1 MB pull"). The floor is the same: a read that waits
 * still waits for one quota within one window, and bytes the stream does not hold yet are never
 * asked for together. Never more than `left`, the block's bytes still to come: what follows them
 * is the next block's.
 */
export function nextRead (bs: object, quota: number, left: number): number {
  const held = bufferedBytes(bs)
  if (held >= left) return left
  if (held < quota) return Math.min(quota, left)
  return held - held % quota
}

/**
 * The bytes a byte stream of @libp2p/utils 7 holds unread (its `readBuffer`, a Uint8ArrayList), or
 * 0 where it has none as this module knows it (another version: one quota a read, as before).
 */
export function bufferedBytes (bs: object): number {
  const b: unknown = Reflect.get(bs, 'readBuffer')
  if (typeof b !== 'object' || b === null) return 0
  const n: unknown = Reflect.get(b, 'byteLength')
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : 0
}
