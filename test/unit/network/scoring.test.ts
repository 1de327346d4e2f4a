import { describe, expect, it } from 'vitest'
import { PeerScores, RECOVERY_PER_MINUTE } from '../../../src/network/index.js'

describe('peer scores', () => {
  it('bans at once for invalid data, and only after repeated timeouts', () => {
    let now = 1_000_000
    const s = new PeerScores({ now: () => now }, { banMs: 60_000 })
    expect(s.penalise('bad', 'bad-seal')).toBe(true)
    expect(s.isBanned('bad')).toBe(true)
    for (let i = 0; i < 9; i++) expect(s.penalise('slow', 'timeout')).toBe(false)
    expect(s.isBanned('slow')).toBe(false)
    expect(s.penalise('slow', 'timeout')).toBe(true)
    now += 60_001
    expect(s.isBanned('bad')).toBe(false)
    expect(s.banned()).toEqual([])
  })

  it('recovers with time, never above zero', () => {
    let now = 0
    const s = new PeerScores({ now: () => now }, { banMs: 1 })
    s.penalise('p', 'timeout')
    expect(s.score('p')).toBe(-10)
    now += 60_000 * (5 / RECOVERY_PER_MINUTE)
    expect(s.score('p')).toBe(-5)
    now += 60 * 60_000
    expect(s.score('p')).toBe(0)
  })
})
