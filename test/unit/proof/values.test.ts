import { describe, expect, it } from 'vitest'
import { encodeRow as blockEncodeRow, type SqlValue } from '../../../src/block/index.js'
import { encodeRow, formatReal, parseInteger, parseProofValue, parseReal, tableEntryValues, toProofValue } from '../../../src/proof/verifier/index.js'

// The verifier re-implements the row encoding without Buffer; it must give the block's bytes.
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('proof values', () => {
  it('encode to exactly the bytes src/block hashes, on the documented vectors and awkward values', () => {
    const rows: SqlValue[][] = [
      [], [null], [1n], [-1n], [9007199254740993n], [1.5], ['hé'], [Uint8Array.of(0, 255)],
      [-(2n ** 63n), 2n ** 63n - 1n, 0n], [Infinity, -Infinity, 5e-324, -0, 0.1 + 0.2, 1e21, 1e-7, -1.7976931348623157e308],
      ['', 'zoë ✓ 𝄞', 'a\u0000b', '\ufeff'], [new Uint8Array(0), new Uint8Array(300).fill(9)],
      [1n, 'a', null, 2.5, Uint8Array.of(1)]
    ]
    for (const r of rows) {
      const values = r.map(toProofValue)
      for (const v of values) expect(parseProofValue(JSON.parse(JSON.stringify(v)) as unknown)).toEqual({ value: v })
      expect(hex(encodeRow(values)), JSON.stringify(values)).toBe(hex(blockEncodeRow(r)))
    }
    expect(hex(encodeRow(tableEntryValues({ name: 't', sql: 'CREATE TABLE t (a)', rows: 3, root: 'ab' })))).toBe(hex(blockEncodeRow(['t', 'CREATE TABLE t (a)', 3n, 'ab'])))
  })

  it('have one text form each: integers and reals are canonical, NaN does not exist', () => {
    for (const [n, s] of [[-0, '-0'], [0, '0'], [Infinity, 'Infinity'], [-Infinity, '-Infinity'], [1e21, '1e+21'], [5e-324, '5e-324'], [0.1 + 0.2, '0.30000000000000004']] as const) {
      expect(formatReal(n)).toBe(s)
      expect(Object.is(parseReal(s), n)).toBe(true)
    }
    for (const s of ['NaN', '1.50', '01', '+1', '1e21', '.5', '0.0', 'Infinity ', '-0.0', '1E+21']) expect(parseReal(s), s).toBeUndefined()
    expect(parseInteger('-9223372036854775808')).toBe(-(2n ** 63n))
    for (const s of ['9223372036854775808', '-0', '007', '1.0', '', ' 1']) expect(parseInteger(s), s).toBeUndefined()
    for (const bad of [{ integer: 1 }, { text: 'a', blob: '' }, { date: 'x' }, [], 'x', { text: '\ud800' }, { blob: 'A' }]) {
      expect('error' in parseProofValue(bad), JSON.stringify(bad)).toBe(true)
    }
  })
})
