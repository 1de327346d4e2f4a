import { describe, expect, it } from 'vitest'
import { daisyQuorum, quorumFor } from '../../../src/chain/index.js'

describe('quorum rules', () => {
  it('daisy: 1 below 149, then floor(2·ln H) — the table regenerated from Daisy\'s Go code', () => {
    const firsts: Array<[number, number]> = [[0, 1], [148, 1], [149, 10], [245, 11], [404, 12], [666, 13], [1097, 14], [1809, 15], [2981, 16], [4915, 17], [8104, 18],
      [13360, 19], [22027, 20], [36316, 21], [59875, 22], [98716, 23], [162755, 24], [268338, 25], [442414, 26], [729417, 27], [1202605, 28]]
    for (const [h, q] of firsts) {
      expect(daisyQuorum(h), `Q(${h})`).toBe(q)
      if (h > 149) expect(daisyQuorum(h - 1), `Q(${h - 1})`).toBe(q - 1)
    }
    expect(daisyQuorum(100_000)).toBe(23)
  })

  it('daisy ignores the signatory count; daisy-capped caps at it (never below 1); majority is > half', () => {
    expect(quorumFor('daisy', 150, 3)).toBe(10)
    expect(quorumFor('daisy-capped', 150, 3)).toBe(3)
    expect(quorumFor('daisy-capped', 150, 20)).toBe(10)
    expect(quorumFor('daisy-capped', 10, 0)).toBe(1)
    expect([1, 2, 3, 4, 5].map(n => quorumFor('majority', 5, n))).toEqual([1, 2, 2, 3, 3])
  })
})
