import { describe, expect, it } from 'vitest'
import { getEventListeners } from 'node:events'
import { Watchdog } from '../../../src/util/index.js'
import { waitFor } from '../../helpers/wait.js'

// A range request's one timer: every deadline of the reply moves it instead of adding a timer.

describe('Watchdog', () => {
  it('fires once the deadline in force passes, naming its cause', async () => {
    const w = new Watchdog()
    w.arm(60_000, 'far')
    w.arm(5, 'near') // an earlier deadline replaces the later one
    await waitFor(() => w.signal.aborted, { what: 'the watchdog to fire' })
    expect(w.timedOut()).toBe(true)
    expect(w.firedBy()).toBe('near')
    expect(w.signal.reason).toMatchObject({ name: 'TimeoutError' })
    w.dispose()
  })

  it('a later deadline postpones the timer set for an earlier one (re-armed, it does not fire)', async () => {
    const w = new Watchdog()
    w.arm(20, 'first')
    w.arm(60_000, 'later') // the 20 ms timer still runs, re-checks, and sleeps again
    const probe = new Watchdog()
    probe.arm(100, 'probe')
    await waitFor(() => probe.signal.aborted, { what: 'the probe, set after the first deadline' })
    expect(w.signal.aborted).toBe(false)
    w.dispose()
    probe.dispose()
  })

  it('aborts with its parent (not a timeout) and leaves nothing attached to it once disposed', () => {
    const parent = new AbortController()
    const w = new Watchdog(parent.signal)
    w.arm(60_000, 'far')
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1)
    parent.abort(new Error('stopping'))
    expect(w.signal.aborted).toBe(true)
    expect(w.timedOut()).toBe(false)
    expect(w.signal.reason).toMatchObject({ message: 'stopping' })
    const other = new AbortController()
    const v = new Watchdog(other.signal)
    v.dispose()
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0)
  })

  it('sets no timer while no deadline is in force (armed at Infinity), and none beyond what setTimeout takes', async () => {
    const warnings: string[] = []
    const onWarning = (w: Error): void => { warnings.push(w.name) }
    process.on('warning', onWarning)
    const w = new Watchdog()
    try {
      w.arm(1, 'short')
      w.armAt(Infinity, 'local disk') // the 1 ms timer still runs: it re-checks, finds no deadline, and stops
      await new Promise(resolve => setTimeout(resolve, 20))
      w.armAt(Infinity, 'local disk') // no timer pending now: before session 22, a 1 ms one and a TimeoutOverflowWarning
      w.arm(2 ** 32, 'far') // beyond setTimeout's range: clamped, not 1 ms
      await new Promise(resolve => setTimeout(resolve, 20))
      await new Promise(resolve => setImmediate(resolve))
      expect(warnings).toEqual([])
      expect(w.signal.aborted).toBe(false)
    } finally {
      process.off('warning', onWarning)
      w.dispose()
    }
  })
})
