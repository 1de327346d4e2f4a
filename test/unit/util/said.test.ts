import { describe, expect, it } from 'vitest'
import { changeOwnWords, quote, quoteEach, said } from '../../../src/util/index.js'

// util/said.ts: a message keeps the ranges it quotes apart from the node's own words (mend37).
describe('said', () => {
  const upper = (s: string): string => s.toUpperCase()

  it('changes the node\'s words only, nested templates and lists included', () => {
    const m = said`no ${quote('table')} in ${said`block ${3} (${quoteEach(['a', 'b'])})`}.`
    expect(m.text).toBe('no table in block 3 (a, b).')
    expect(changeOwnWords(m.text, m.quotes, upper)).toBe('NO table IN BLOCK 3 (a, b).')
  })

  it('no ranges, or ranges not of this text: all its own words', () => {
    expect(changeOwnWords('abc', undefined, upper)).toBe('ABC')
    expect(changeOwnWords('abc', [[1, 9]], upper)).toBe('ABC')
    expect(quote('').quotes).toEqual([])
  })
})
