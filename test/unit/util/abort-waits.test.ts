// abortWaits: abortable's waits under one 'abort' listener for a loop of them (verify's in-order
// thread waits once per batch of blocks; a listener added and removed per wait cost ~10–20 µs on
// Node's EventTarget).
import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { abortWaits, isPetalError } from '../../../src/util/index.js'

const isAbort = (err: unknown): boolean => isPetalError(err) && err.code === 'ABORTED'

describe('abortWaits', () => {
  it('gives each promise\'s value or error, with one listener on the signal for all the waits, none after dispose', async () => {
    const ac = new AbortController()
    const waits = abortWaits(ac.signal)
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1)
    for (let i = 0; i < 50; i++) expect(await waits.wait(Promise.resolve(i))).toBe(i)
    const err = new Error('the work failed')
    await expect(waits.wait(Promise.reject(err))).rejects.toBe(err)
    // Two at once, in either order.
    const [a, b] = await Promise.all([waits.wait(new Promise(resolve => setTimeout(() => { resolve('a') }, 5))), waits.wait(Promise.resolve('b'))])
    expect([a, b]).toEqual(['a', 'b'])
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1)
    waits.dispose()
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0)
  })

  it('ends every wait in progress with ABORTED when the signal fires, though its promise never settles; later waits too', async () => {
    const ac = new AbortController()
    const waits = abortWaits(ac.signal)
    const never = new Promise<never>(() => {})
    const first = waits.wait(never).then(() => 'settled', (e: unknown) => e)
    const second = waits.wait(never).then(() => 'settled', (e: unknown) => e)
    setImmediate(() => { ac.abort() })
    expect(isAbort(await first)).toBe(true)
    expect(isAbort(await second)).toBe(true)
    await expect(waits.wait(Promise.resolve(1))).rejects.toSatisfy(isAbort)
    waits.dispose()
  })

  it('fails at once on a signal already aborted, and without a signal only waits', async () => {
    const ac = new AbortController()
    ac.abort()
    const waits = abortWaits(ac.signal)
    await expect(waits.wait(Promise.resolve(1))).rejects.toSatisfy(isAbort)
    waits.dispose()
    const none = abortWaits(undefined)
    expect(await none.wait(Promise.resolve(2))).toBe(2)
    none.dispose()
  })
})
