import { describe, expect, it } from 'vitest'
import { trimmedUtf8 } from '../../../src/storage/block-files.js'

// readSeal decodes a seal file's bytes without the ends' ASCII white space instead of trimming the
// decoded string (docs/performance/verify.md, "Session 20: plain verify"): the text must be trim()'s.
describe("a seal file's text", () => {
  const trim = (b: Buffer): string => b.toString('utf8').trim()
  const check = (b: Buffer): void => { expect(trimmedUtf8(b, b.length)).toBe(trim(b)) }
  const seal = '3045022100' + 'ab'.repeat(32) + '0220' + '12'.repeat(32)

  it('is what trim() makes of it: ASCII and Unicode white space, invalid UTF-8, empty', () => {
    const ends = ['', ' ', '\n', '\r\n', '\t', '\v\f', ' \n ', '\u00a0', '\ufeff', '\u2028', '\u3000', '\u00a0\n', '\n\u00a0', 'x', '\u00e9', '\u00a0x']
    for (const a of ends) for (const b of ends) check(Buffer.from(a + seal + b))
    for (const raw of [[], [0x20], [0x0a, 0x0d], [0xff], [0x80], [0xc2], [0xc2, 0xa0], [0x20, 0xc2, 0xa0, 0x20], [0xef, 0xbb, 0xbf, 0x61, 0x0a], [0x61, 0xe2, 0x80], [0x0a, 0xe2, 0x80, 0xa8]]) {
      check(Buffer.from(raw))
      check(Buffer.concat([Buffer.from(seal), Buffer.from(raw)]))
      check(Buffer.concat([Buffer.from(raw), Buffer.from(seal)]))
    }
  })

  it('is what trim() makes of random bytes of white space, ASCII and multi-byte characters', () => {
    const parts = [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x61, 0x30, [0xc2, 0xa0], [0xc2, 0x85], [0xe2, 0x80, 0x8b], [0xe2, 0x80, 0xa9], [0xef, 0xbb, 0xbf], 0xff, 0x80]
    let seed = 7
    const next = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed }
    for (let i = 0; i < 3000; i++) {
      const bytes: number[] = []
      for (let k = next() % 8; k > 0; k--) bytes.push(...[parts[next() % parts.length]].flat() as number[])
      check(Buffer.from(bytes))
    }
  })

  it('reads only the first n bytes of its buffer', () => {
    const b = Buffer.from(' ' + seal + '\nzz')
    expect(trimmedUtf8(b, seal.length + 2)).toBe(seal)
  })
})
