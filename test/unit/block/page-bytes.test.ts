import { describe, expect, it } from 'vitest'
import { copyOut, u32 } from '../../../src/block/page-bytes.js'

describe('the page reader\'s byte reads (page-bytes.ts) against Node\'s Buffer methods they replace', () => {
  it('copyOut copies and clamps as Buffer.copy(dst, 0, from, end) does', () => {
    const src = Buffer.from(Array.from({ length: 64 }, (_, i) => i + 1)).subarray(3, 50)
    for (const [from, end, size] of [[0, 10, 16], [5, 47, 64], [40, 100, 16], [0, 47, 8], [46, 47, 1], [10, 10, 4], [20, 12, 4], [47, 60, 4]] as const) {
      const want = Buffer.alloc(size, 0xee)
      const got = Buffer.alloc(size, 0xee)
      const n = copyOut(src, from, end, got)
      expect(n, `${from}..${end} into ${size}`).toBe(src.copy(want, 0, from, end))
      expect(got.equals(want), `${from}..${end} into ${size}`).toBe(true)
    }
  })

  it('u32 reads a big-endian unsigned 32-bit value, 0 for bytes past the end', () => {
    const b = Buffer.from([0xff, 0xfe, 0x01, 0x80, 0x7f, 0x00])
    for (let p = 0; p + 4 <= b.length; p++) expect(u32(b, p)).toBe(b.readUInt32BE(p))
    expect(u32(b, 4)).toBe(0x7f000000)
  })
})
