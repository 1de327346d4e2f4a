import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AbortError, LazyAbort, linkSignals, Mutex, sleep, throwIfAborted } from '../../../src/util/index.js'

// The command's abort (start.ts): its probe is what a local write's checks read, and it must see
// every abort that the real signal would, while making no AbortController for a run that only
// reads `aborted` (docs/performance/import.md, "Session 43: the 100-row import").
describe('LazyAbort', () => {
  const Real = globalThis.AbortController
  let made = 0
  beforeEach(() => {
    made = 0
    globalThis.AbortController = class extends Real { constructor () { super(); made++ } }
  })
  afterEach(() => { globalThis.AbortController = Real })

  it('the probe\'s checks make no AbortController until something aborts', () => {
    const a = new LazyAbort()
    expect(a.probe.aborted).toBe(false)
    expect(a.probe.reason).toBeUndefined()
    a.probe.throwIfAborted()
    throwIfAborted(a.probe)
    a.probe.removeEventListener('abort', () => {})
    expect(made).toBe(0)
    a.abort()
    expect(made).toBe(1)
    expect(a.probe.aborted).toBe(true)
    expect(a.signal.aborted).toBe(true)
    expect(a.probe.reason).toBe(a.signal.reason)
    expect(() => { a.probe.throwIfAborted() }).toThrow()
    expect(() => { throwIfAborted(a.probe) }).toThrow(AbortError)
    expect(made).toBe(1)
  })

  it('an abort after the signal was asked for is the same signal\'s, seen by both', () => {
    const a = new LazyAbort()
    const s = a.signal
    expect(a.signal).toBe(s)
    expect(made).toBe(1)
    a.abort('why')
    a.abort('again') // a second abort changes nothing
    expect(s.aborted).toBe(true)
    expect(s.reason).toBe('why')
    expect(a.probe.reason).toBe('why')
    expect(made).toBe(1)
  })

  it('a listener on the probe makes the real signal and hears the abort; removed, it hears nothing', () => {
    const a = new LazyAbort()
    let heard = 0
    const f = (): void => { heard++ }
    a.probe.addEventListener('abort', f)
    expect(made).toBe(1)
    a.abort()
    expect(heard).toBe(1)
    const b = new LazyAbort()
    b.probe.addEventListener('abort', f)
    b.probe.removeEventListener('abort', f)
    b.abort()
    expect(heard).toBe(1)
    const c = new LazyAbort()
    c.probe.onabort = f
    c.abort()
    expect(heard).toBe(2)
  })

  it('Petal\'s waits on the probe give up on an abort before or during them', async () => {
    const before = new LazyAbort()
    before.abort()
    await expect(sleep(10_000, before.probe)).rejects.toBeInstanceOf(AbortError)
    await expect(new Mutex().acquire(before.probe)).rejects.toBeInstanceOf(AbortError)

    const during = new LazyAbort()
    const held = new Mutex()
    const release = await held.acquire()
    const queued = held.acquire(during.probe)
    const slept = sleep(10_000, during.probe)
    const linked = linkSignals([during.probe])
    await new Promise(resolve => setImmediate(resolve))
    during.abort()
    await expect(queued).rejects.toBeInstanceOf(AbortError)
    await expect(slept).rejects.toBeInstanceOf(AbortError)
    expect(linked.signal.aborted).toBe(true)
    release()
    // A free mutex on an untouched probe (a local write's lock): still no AbortController.
    const quiet = new LazyAbort()
    made = 0
    const r = await new Mutex().acquire(quiet.probe)
    r()
    expect(made).toBe(0)
  })
})
