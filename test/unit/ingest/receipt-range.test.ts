import { describe, expect, it } from 'vitest'
import { AppendedRows, receiptCount, receiptsBody, receiptsJson } from '../../../src/ingest/receipt-range.js'

describe('an append\'s receipts kept as a range', () => {
  it('writes the same JSON as the receipt strings, few or many, across digit carries', () => {
    for (const [first, count] of [[1, 1], [1, 12], [7, 4], [95, 10], [1, 0], [1, 300], [9_744, 300], [99_990, 1_000], [9_999_999_744, 257], [123_456_789_012, 3]] as const) {
      const r = new AppendedRows('t', false, [], 'abcdefgh', first, count)
      expect(receiptCount(r)).toBe(count)
      const text = receiptsJson(r).toString()
      expect(JSON.parse(text)).toEqual(Array.from({ length: count }, (_, i) => `abcdefgh-${first + i}`))
      expect(text).toBe(JSON.stringify(r.receipts))
    }
  })

  it('is a result like any other to its callers: receipts read once, JSON of every field', () => {
    const r = new AppendedRows('t', true, ['a'], 'abcdefgh', 41, 2)
    expect(r.receipts).toBe(r.receipts)
    expect(JSON.parse(JSON.stringify(r))).toEqual({ table: 't', created: true, addedColumns: ['a'], receipts: ['abcdefgh-41', 'abcdefgh-42'] })
    const plain = { table: 't', created: false, addedColumns: [], receipts: ['a', 'b'] }
    expect(receiptCount(plain)).toBe(2)
    expect(receiptsJson(plain)).toBe('["a","b"]')
  })

  it('writes a body around the receipts, as a string for one and as one Buffer for more', () => {
    const head = '{"table":"tä","rows":'
    for (const [first, count] of [[1, 1], [9, 2], [95, 100], [1, 300]] as const) {
      const r = new AppendedRows('t', false, [], 'abcdefgh', first, count)
      const body = receiptsBody(r, head, '}')
      expect(typeof body === 'string').toBe(count === 1)
      expect(body.toString()).toBe(`${head}${JSON.stringify(r.receipts)}}`)
    }
    expect(receiptsBody({ table: 't', created: false, addedColumns: [], receipts: ['a'] }, '<', '>')).toBe('<["a"]>')
  })
})
