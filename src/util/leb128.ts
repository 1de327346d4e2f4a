/** The unsigned LEB128 encoding of `v` (a non-negative integer): WebAssembly's indices, sizes and offsets. */
export function uleb (v: number): number[] {
  const out: number[] = []
  do {
    let b = v & 0x7f
    v = Math.floor(v / 128)
    if (v !== 0) b |= 0x80
    out.push(b)
  } while (v !== 0)
  return out
}
