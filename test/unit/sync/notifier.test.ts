import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { Notifier } from '../../../src/sync/notifier.js'

const timers = (): number => process.getActiveResourcesInfo().filter(r => r === 'Timeout').length

describe('Notifier', () => {
  it('a notify before the wait is not lost; one while waiting wakes it', async () => {
    const n = new Notifier()
    n.notify()
    expect(await n.wait(10_000)).toBe(true)
    const w = n.wait(10_000)
    setImmediate(() => { n.notify() })
    expect(await w).toBe(true)
  })

  it('times out after its own ms, also when an earlier wait armed a later timer or an earlier one', async () => {
    const n = new Notifier()
    // A long wait ended by notify leaves its timer; a shorter wait after it must not wait for it.
    const long = n.wait(5_000)
    n.notify()
    expect(await long).toBe(true)
    let t = performance.now()
    expect(await n.wait(30)).toBe(false)
    expect(performance.now() - t).toBeLessThan(2_000)
    expect(performance.now() - t).toBeGreaterThanOrEqual(25)
    // A short wait ended by notify leaves a timer that fires early for a longer wait: that wait
    // still lasts its own ms.
    const short = n.wait(20)
    n.notify()
    expect(await short).toBe(true)
    t = performance.now()
    expect(await n.wait(120)).toBe(false)
    expect(performance.now() - t).toBeGreaterThanOrEqual(110)
  })

  it('an abort ends the wait as false, and a wait on an aborted signal returns at once', async () => {
    const n = new Notifier()
    const c = new AbortController()
    const w = n.wait(10_000, c.signal)
    c.abort()
    expect(await w).toBe(false)
    expect(await n.wait(10_000, c.signal)).toBe(false)
    // Another signal later: its abort ends that wait; the first one's listener is gone.
    const c2 = new AbortController()
    const w2 = n.wait(10_000, c2.signal)
    c2.abort()
    expect(await w2).toBe(false)
  })

  it('dispose ends a wait and leaves no listener on a signal that outlives the loop, nor a timer', async () => {
    const c = new AbortController()
    const before = timers()
    for (let i = 0; i < 20; i++) {
      const n = new Notifier()
      const w = n.wait(10_000, c.signal)
      n.notify()
      expect(await w).toBe(true)
      const w2 = n.wait(10_000, c.signal)
      n.dispose()
      expect(await w2).toBe(false)
    }
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0)
    expect(timers()).toBe(before)
  })

  it('holds the process only while a loop waits', async () => {
    const before = timers()
    const n = new Notifier()
    const w = n.wait(10_000)
    expect(timers()).toBe(before + 1)
    n.notify()
    expect(await w).toBe(true)
    expect(timers()).toBe(before)
    const w2 = n.wait(10_000)
    expect(timers()).toBe(before + 1)
    n.notify()
    await w2
    expect(timers()).toBe(before)
  })
})
