import { describe, expect, it } from 'vitest'
import { type WireHeader } from '../../../src/network/index.js'
import { Slot, WaitingCount } from '../../../src/sync/slot.js'
import { fail, headers, useSourceChain } from './download-harness.js'

useSourceChain()

describe('Slot', () => {
  const h = (): WireHeader => ({ ...(headers[0] ?? fail()) })
  const req = (peer: string): { peer: string, file: string, controller: AbortController } => ({ peer, file: `/tmp/${peer}`, controller: new AbortController() })

  it('moves through its states by checked transitions only', () => {
    const s = new Slot(h())
    expect(() => { s.importing() }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    expect(() => { s.hedge(req('A')) }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    s.start(req('A'), 0)
    expect(() => { s.start(req('B'), 0) }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    expect(() => { s.hedge(req('A')) }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    s.hedge(req('B'))
    expect(() => { s.succeeded('C', 'ab') }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    s.failed('A')
    expect(s.state).toMatchObject({ kind: 'fetching', tried: new Set(['A']) })
    expect(s.isFetchingFrom('A')).toBe(false)
    const losers = s.succeeded('B', 'ab')
    expect(losers).toEqual([])
    expect(s.state).toEqual({ kind: 'fetched', round: 0, tried: new Set(['A']), file: '/tmp/B', seal: 'ab', from: 'B' })
    expect(() => { s.failed('B') }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    expect(s.importing()).toEqual({ file: '/tmp/B', seal: 'ab', from: 'B' })
    s.importDone()
    expect(s.state).toEqual({ kind: 'done' })
    expect(s.leftovers()).toEqual({ requests: [] })
  })

  it('returns to waiting when its last request fails, and counts rounds', () => {
    const s = new Slot(h())
    s.start(req('A'), 0)
    s.failed('A')
    expect(s.state).toMatchObject({ kind: 'waiting', round: 0, tried: new Set(['A']) })
    s.nextRound(100, 50)
    expect(s.state).toEqual({ kind: 'waiting', round: 1, tried: new Set(), notBefore: 150 })
    s.giveUp()
    expect(s.state).toEqual({ kind: 'unavailable' })
    expect(() => { s.nextRound(0, 0) }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
  })

  it('goes back to waiting, its peer failed this round, when its checks find bytes of another hash', () => {
    const waiting = new WaitingCount()
    const s = new Slot(h(), undefined, waiting)
    s.start(req('A'), 0)
    s.failed('A')
    s.start(req('B'), 0)
    s.succeeded('B', 'ab', 100, undefined, false)
    expect(s.state).toMatchObject({ kind: 'fetched', hashed: false, round: 0 })
    expect(waiting.n).toBe(0)
    s.wrongBytes()
    expect(s.state).toEqual({ kind: 'waiting', round: 0, tried: new Set(['A', 'B']), notBefore: 0 })
    expect(waiting.n).toBe(1)
    expect(() => { s.wrongBytes() }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
  })

  it('counts the slots that wait for a peer, through every transition (the scheduler skips its window walk at 0)', () => {
    const waiting = new WaitingCount()
    const a = new Slot(h(), undefined, waiting)
    const b = new Slot(h(), undefined, waiting)
    expect(waiting.n).toBe(2)
    a.start(req('A'), 0)
    b.start(req('A'), 0)
    expect(waiting.n).toBe(0)
    a.hedge(req('B'))
    a.failed('A') // still fetching from B
    expect(waiting.n).toBe(0)
    a.failed('B')
    b.failed('A')
    expect(waiting.n).toBe(2)
    a.nextRound(0, 10) // waiting → waiting
    expect(waiting.n).toBe(2)
    b.giveUp()
    expect(waiting.n).toBe(1)
    a.start(req('C'), 0)
    a.succeeded('C', 'ab')
    a.importing()
    a.importDone()
    expect(waiting.n).toBe(0)
    // A failed transition changes nothing.
    expect(() => { a.failed('C') }).toThrow(expect.objectContaining({ code: 'WRONG_SLOT_STATE' }))
    expect(waiting.n).toBe(0)
  })
})
