import { describe, expect, it } from 'vitest'
import { getEventListeners } from 'node:events'
import { createLogger, linkSignals, PetalError, runLoop, runStopSteps, type LogRecord } from '../../../src/util/index.js'
import { deadline } from '../../../src/network/rpc.js'
import { waitFor } from '../../helpers/wait.js'

function capture (): { logger: ReturnType<typeof createLogger>, records: LogRecord[] } {
  const records: LogRecord[] = []
  return { logger: createLogger(r => { records.push(r) }, 'debug'), records }
}

/** The composite signals Node keeps for a source signal (AbortSignal.any's bookkeeping). */
function dependants (s: AbortSignal): number {
  const sym = Object.getOwnPropertySymbols(s).find(x => x.toString() === 'Symbol(kDependantSignals)')
  // A SafeSet of Node's primordials: not `instanceof Set` here, but it has a size.
  const size: unknown = sym === undefined ? undefined : Reflect.get(Object(Reflect.get(s, sym)), 'size')
  return typeof size === 'number' ? size : 0
}

describe('runLoop', () => {
  it('logs a failing pass and goes on with a growing backoff, and says when it recovered', async () => {
    const { logger, records } = capture()
    const ac = new AbortController()
    let passes = 0
    const loop = runLoop('test loop', { signal: ac.signal, logger, everyMs: 1, backoff: { minMs: 1, maxMs: 4 } }, async () => {
      passes++
      if (passes <= 3) throw new Error(`pass ${passes} broke`)
    })
    await waitFor(() => passes >= 6, { what: 'the loop to go on after failures' })
    ac.abort()
    await loop
    const warns = records.filter(r => r.level === 'warn')
    expect(warns.map(r => r.context?.error)).toEqual(['pass 1 broke', 'pass 2 broke', 'pass 3 broke'])
    expect(warns.map(r => r.context?.retryInMs)).toEqual([1, 2, 4])
    expect(records.some(r => r.message === 'test loop recovered')).toBe(true)
  })

  it("logs a failure's code: a Petal error's, or the system's or SQLite's own on an unwrapped error", async () => {
    const { logger, records } = capture()
    const ac = new AbortController()
    const failures: unknown[] = [
      new PetalError('IO_ERROR', 'the disk failed'),
      Object.assign(new Error('ENOSPC: no space left on device, open'), { code: 'ENOSPC' }),
      Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' }),
      new Error('no code at all'),
      Object.assign(new Error('a numeric code'), { code: 5 })
    ]
    let passes = 0
    const loop = runLoop('test loop', { signal: ac.signal, logger, everyMs: 1, backoff: { minMs: 1, maxMs: 1 } }, async () => {
      const f = failures[passes++]
      if (f !== undefined) throw f
    })
    await waitFor(() => passes > failures.length, { what: 'every failure to be logged' })
    ac.abort()
    await loop
    expect(records.filter(r => r.level === 'warn').map(r => r.context?.code)).toEqual(['IO_ERROR', 'ENOSPC', 'SQLITE_IOERR_WRITE', undefined, undefined])
  })

  it('ends quietly when stopped, even inside a pass', async () => {
    const { logger, records } = capture()
    const ac = new AbortController()
    let started = false
    const loop = runLoop('test loop', { signal: ac.signal, logger }, async signal => {
      started = true
      await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(new Error('aborted')) }) })
    })
    await waitFor(() => started)
    ac.abort()
    await loop
    expect(records.filter(r => r.level === 'warn')).toEqual([])
  })
})

describe('runStopSteps', () => {
  it('runs every step when one fails, and throws the first failure', async () => {
    const { logger } = capture()
    const ran: string[] = []
    const err = await runStopSteps([
      ['one', () => { ran.push('one') }],
      ['two', () => { ran.push('two'); throw new Error('two failed') }],
      ['three', async () => { ran.push('three'); throw new Error('three failed') }],
      ['four', () => { ran.push('four') }]
    ], logger).catch((e: unknown) => e)
    expect(ran).toEqual(['one', 'two', 'three', 'four'])
    expect(err).toMatchObject({ message: 'two failed' })
  })
})

describe('request deadlines (linkSignals)', () => {
  it('leave nothing attached to a long-lived signal (nodejs/node#55351)', () => {
    const node = new AbortController()
    for (let i = 0; i < 1000; i++) {
      const d = deadline(10_000, node.signal)
      d.dispose?.()
    }
    expect(getEventListeners(node.signal, 'abort')).toHaveLength(0)
    expect(dependants(node.signal)).toBe(0)
  })

  it('put one listener on a source however many requests share it (no MaxListeners warning)', () => {
    const node = new AbortController()
    const open = Array.from({ length: 50 }, () => deadline(10_000, node.signal))
    expect(getEventListeners(node.signal, 'abort')).toHaveLength(1)
    node.abort(new Error('stopping'))
    expect(open.every(d => d.signal.aborted && !d.timedOut())).toBe(true)
    for (const d of open) d.dispose()
    expect(getEventListeners(node.signal, 'abort')).toHaveLength(0)
  })

  it('abort with the source, or on timeout (and say which)', async () => {
    const src = new AbortController()
    const a = linkSignals([src.signal], 10_000)
    src.abort(new Error('stop'))
    expect(a.signal.aborted).toBe(true)
    expect(a.signal.reason).toMatchObject({ message: 'stop' })
    expect(a.timedOut()).toBe(false)
    expect(getEventListeners(src.signal, 'abort')).toHaveLength(0)

    const other = new AbortController()
    const t = linkSignals([other.signal, undefined], 5)
    await waitFor(() => t.signal.aborted)
    expect(t.timedOut()).toBe(true)
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0)

    const already = linkSignals([AbortSignal.abort('x')])
    expect(already.signal.aborted).toBe(true)
  })
})
