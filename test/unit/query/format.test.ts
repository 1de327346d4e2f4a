import { describe, expect, it } from 'vitest'
import { createFormatter, csvField, jsonValue, realText, uniqueKeys } from '../../../src/query/index.js'

const blob = new Uint8Array([0, 1, 254, 255])

describe('value encodings', () => {
  it('keeps REALs distinguishable from INTEGERs and exact', () => {
    expect(realText(1)).toBe('1.0')
    expect(realText(-0)).toBe('-0.0')
    expect(realText(0.1)).toBe('0.1')
    expect(realText(1e300)).toBe('1e+300')
    expect(realText(Infinity)).toBe('1e999')
    expect(realText(-Infinity)).toBe('-1e999')
    for (const x of [0.1, 1 / 3, -2.5e-300, 123456789.125, 2 ** 60]) expect(Number(realText(x))).toBe(x)
    expect(JSON.parse(realText(Infinity))).toBe(Infinity)
  })

  it('writes JSON values losslessly: exact big integers, NULL, BLOB as base64', () => {
    expect(jsonValue(null)).toBe('null')
    expect(jsonValue(9223372036854775807n)).toBe('9223372036854775807')
    expect(jsonValue(-9223372036854775808n)).toBe('-9223372036854775808')
    expect(jsonValue(2n ** 53n + 1n)).toBe('9007199254740993')
    expect(jsonValue(2.5)).toBe('2.5')
    expect(jsonValue('a"\n\u2028é')).toBe(JSON.stringify('a"\n\u2028é'))
    expect(jsonValue(blob)).toBe('{"$base64":"AAH+/w=="}')
    expect(jsonValue(new Uint8Array(0))).toBe('{"$base64":""}')
  })

  it('writes CSV fields per RFC 4180, NULL apart from the empty string', () => {
    expect(csvField(null)).toBe('')
    expect(csvField('')).toBe('""')
    expect(csvField('a,b')).toBe('"a,b"')
    expect(csvField('say "hi"')).toBe('"say ""hi"""')
    expect(csvField('two\nlines')).toBe('"two\nlines"')
    expect(csvField(' padded')).toBe('" padded"')
    expect(csvField(blob)).toBe('\\x0001feff')
    expect(csvField(12345678901234567890n)).toBe('12345678901234567890')
    expect(csvField(3)).toBe('3.0')
  })

  it('never lets CSV text read as a BLOB: a leading backslash is doubled', () => {
    expect(csvField('\\x00')).toBe('\\\\x00')
    expect(csvField(new Uint8Array([0]))).toBe('\\x00')
    expect(csvField('\\')).toBe('\\\\')
    expect(csvField('a\\b')).toBe('a\\b')
    expect(csvField('\\x,1')).toBe('"\\\\x,1"')
  })

  it('renames duplicate column names after the first, avoiding names already taken', () => {
    expect(uniqueKeys(['a', 'b', 'a', 'a'])).toEqual(['a', 'b', 'a:2', 'a:3'])
    expect(uniqueKeys(['a', 'a:2', 'a'])).toEqual(['a', 'a:2', 'a:3'])
    expect(uniqueKeys(['x'])).toEqual(['x'])
  })
})

describe('formatters', () => {
  const columns = ['k', 'n', 'k']
  const rows = [['a', 1n, null], [null, 2n ** 63n - 1n, blob]]

  it('NDJSON keeps column order, duplicates and NULLs', () => {
    const f = createFormatter('ndjson')
    const out = f.header(columns) + f.rows(rows) + f.end({ rowCount: 2 })
    expect(out).toBe('{"k":"a","n":1,"k:2":null}\n{"k":null,"n":9223372036854775807,"k:2":{"$base64":"AAH+/w=="}}\n')
    const keys = out.trim().split('\n').map(l => Object.keys(JSON.parse(l) as object))
    expect(keys[0]).toEqual(['k', 'n', 'k:2'])
  })

  it('JSON is one document with columns, rows as arrays and the summary', () => {
    const f = createFormatter('json')
    const out = f.header(columns) + f.rows(rows.slice(0, 1)) + f.rows(rows.slice(1)) + f.end({ rowCount: 2, tip: { height: 3, hash: 'ab' } })
    const doc = JSON.parse(out) as { columns: string[], rows: unknown[][], rowCount: number, tip: unknown }
    expect(doc.columns).toEqual(columns)
    expect(doc.rows[0]).toEqual(['a', 1, null])
    expect(doc.rowCount).toBe(2)
    expect(doc.tip).toEqual({ height: 3, hash: 'ab' })
    const empty = createFormatter('json')
    expect(JSON.parse(empty.header(['x']) + empty.end({ rowCount: 0 }))).toEqual({ columns: ['x'], rows: [], rowCount: 0 })
  })

  it('CSV has a header and CRLF line ends', () => {
    const f = createFormatter('csv')
    expect(f.header(['a', 'b,c']) + f.rows([[1n, ''], [null, 'x']]) + f.end({ rowCount: 2 })).toBe('a,"b,c"\r\n1,""\r\n,x\r\n')
  })

  it('table aligns columns, shows NULL and BLOBs, and counts rows', () => {
    const f = createFormatter('table')
    const out = f.header(['name', 'n']) + f.rows([['alpha', 10n], [null, 2n]]) + f.rows([['x\ny', null]]) + f.end({ rowCount: 3 })
    expect(out.split('\n')).toEqual(['name  |    n', '------+-----', 'alpha |   10', 'NULL  |    2', 'x\\ny  | NULL', '(3 rows)', ''])
  })
})
