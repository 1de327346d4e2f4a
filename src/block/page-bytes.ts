// Byte reads of the page reader (btree.ts) without Node's Buffer helpers: Buffer's copy(),
// readUInt16BE() and readUInt32BE() were TurboFan compiles of their own in every fresh verify
// worker (docs/performance/verify.md, "Session 20: verify --deep").

/**
 * `src[from…end)` (clamped to `src`) copied to the start of `dst`; returns the bytes copied. As
 * Buffer's copy() gives, through a plain Uint8Array view: Node's copy() and its argument checks
 * (`copy`, `_copy`, `_copyActual`, `isUint8Array`, a `wrappedFn`) were five TurboFan compiles in every
 * fresh worker, and a Buffer's subarray() runs Node's FastBuffer constructor.
 */
export function copyOut (src: Uint8Array, from: number, end: number, dst: Uint8Array): number {
  const n = Math.min(end, src.length) - from
  if (n <= 0) return 0
  if (n > dst.length) return copyOut(src, from, from + dst.length, dst)
  dst.set(new Uint8Array(src.buffer, src.byteOffset + from, n))
  return n
}

/** The big-endian u32 at `b[p…]` (a page number; bytes past the end read as 0). */
export function u32 (b: Uint8Array, p: number): number {
  return (((b[p] ?? 0) << 24) | ((b[p + 1] ?? 0) << 16) | ((b[p + 2] ?? 0) << 8) | (b[p + 3] ?? 0)) >>> 0
}

/**
 * The pages of the database in a file of `filePages` pages whose 100-byte header is `h`, as SQLite
 * counts them (btree.c, lockBtree): the header's count (offset 28) when it is authoritative (not 0,
 * and "version-valid-for" at 92 equal to the change counter at 24), else the file's. Pages past it
 * are not part of the database: SQLite reports a b-tree that reaches one as corrupt, where the page
 * reader read them (until session 47). Undefined where the header counts more pages than the file
 * has, which SQLite refuses at the open (SQLITE_CORRUPT).
 */
export function databasePages (h: Uint8Array, filePages: number): number | undefined {
  const counted = u32(h, 28)
  if (counted === 0 || u32(h, 24) !== u32(h, 92)) return filePages
  return counted > filePages ? undefined : counted
}
