import { describe, expect, it } from 'vitest'
import { AbortError, Mutex } from '../../../src/util/index.js'

/** A signal that counts the listeners added to it. */
function counted (): { controller: AbortController, adds: () => number } {
  const controller = new AbortController()
  let n = 0
  const add = controller.signal.addEventListener.bind(controller.signal)
  controller.signal.addEventListener = (...a: Parameters<AbortSignal['addEventListener']>) => { n++; add(...a) }
  return { controller, adds: () => n }
}

describe('Mutex and its signal', () => {
  it('takes a free mutex without listening on the signal (docs/performance/startup.md, "Session 42: start-up")', async () => {
    // A local command's one write took the free mutex through a listener on the command's signal,
    // which compiled event_target's listener code in every import.
    const m = new Mutex()
    const { controller, adds } = counted()
    const release = await m.acquire(controller.signal)
    expect(adds()).toBe(0)
    release()
    release() // a second release changes nothing: the next turn is still free
    const again = await m.acquire(controller.signal)
    expect(adds()).toBe(0)
    again()
  })

  it('a queued turn still gives up on the signal, and passes on once the holder is done', async () => {
    const m = new Mutex()
    const first = await m.acquire()
    const { controller, adds } = counted()
    const waiting = m.acquire(controller.signal)
    const third = m.acquire()
    let thirdHas = false
    void third.then(() => { thirdHas = true })
    await new Promise(resolve => setImmediate(resolve))
    expect(adds()).toBe(1)
    controller.abort()
    await expect(waiting).rejects.toBeInstanceOf(AbortError)
    expect(thirdHas).toBe(false)
    first()
    const release = await third
    // Free again once the third is done: taken at once, without a listener.
    release()
    const { controller: c2, adds: adds2 } = counted()
    ;(await m.acquire(c2.signal))()
    expect(adds2()).toBe(0)
  })

  it('an aborted signal is refused even when the mutex is free, and takes no turn', async () => {
    const m = new Mutex()
    const controller = new AbortController()
    controller.abort()
    await expect(m.acquire(controller.signal)).rejects.toBeInstanceOf(AbortError)
    const release = await m.acquire()
    const next = m.acquire()
    let has = false
    void next.then(() => { has = true })
    await new Promise(resolve => setImmediate(resolve))
    expect(has).toBe(false)
    release()
    ;(await next)()
  })
})
