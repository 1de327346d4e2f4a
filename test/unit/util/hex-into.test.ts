import { describe, expect, it } from 'vitest'
import { fromHex, hexInto } from '../../../src/util/index.js'

/** hexInto's bytes, or undefined where it refuses: must be fromHex's verdict on every string that fits. */
function viaInto (hex: string, into: Uint8Array): Uint8Array | undefined {
  const n = hexInto(hex, into)
  return n < 0 ? undefined : into.slice(0, n)
}

describe('hexInto', () => {
  it('decodes exactly what fromHex decodes, and refuses what it refuses', () => {
    const into = new Uint8Array(40)
    const cases = ['', '00', 'ff', '0a1b2c3d4e5f6789', 'abcdef0123456789'.repeat(5), 'A0', '0A', 'aG', 'g0', '0', 'abc', ' 00', '00 ', '0x00',
      'ab\u00e9c', '\u0661\u0662', 'ab\ud800', '3045022100', 'ff'.repeat(40)]
    // Every character code up to 0x17f at both positions of a byte.
    for (let c = 0; c < 0x180; c++) cases.push(`a${String.fromCharCode(c)}`, `${String.fromCharCode(c)}b`)
    for (const hex of cases) expect([hex, viaInto(hex, into)]).toEqual([hex, fromHex(hex)])
  })

  it('refuses what does not fit, and overwrites what an earlier call left', () => {
    const into = new Uint8Array(4)
    expect(hexInto('0102030405', into)).toBe(-1)
    expect(hexInto('ffffffff', into)).toBe(4)
    expect(hexInto('0102', into)).toBe(2)
    expect(Array.from(into.subarray(0, 2))).toEqual([1, 2])
    // A refused string after a good one reports the refusal, whatever the buffer holds.
    expect(hexInto('01zz', into)).toBe(-1)
  })
})
