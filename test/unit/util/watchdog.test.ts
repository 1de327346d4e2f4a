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
})
