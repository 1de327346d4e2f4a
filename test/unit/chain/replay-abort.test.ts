// Plain verify's in-order thread takes a batch's blocks without an await each (4f6bd27) and turns
// the event loop once per 16 blocks (4f9e3da): an interruption (Ctrl-C aborts the signal from a
// signal handler, an event) must still stop the replay within those 16 blocks, with ABORTED (no
// block's height on it), and the last progress must count exactly the blocks taken.
import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { signImport } from '../../../src/chain/index.js'
import { replayChain } from '../../../src/chain/replay.js'
import { isPetalError } from '../../../src/util/index.js'
import { newTestChain } from '../../helpers/chain.js'

describe('replay interrupted', () => {
  it('stops at the block it is aborted on, or within the next 16 when aborted from an event, with ABORTED', async () => {
    const t = await newTestChain()
    try {
      for (let i = 0; i < 40; i++) await signImport(t.chain, undefined, t.key)
      const run = async (onHeight: (h: number, ac: AbortController) => void, ac = new AbortController()): Promise<{ err: unknown, heights: number[], blocks: number | undefined }> => {
        const heights: number[] = []
        let blocks: number | undefined
        const err = await replayChain(t.chain, {
          toHeight: 40,
          workers: 2,
          signal: ac.signal,
          onBlock: c => { heights.push(c.file.header.height); onHeight(c.file.header.height, ac) },
          onProgress: p => { blocks = p.blocks }
        }).then(() => undefined, (e: unknown) => e)
        return { err, heights, blocks }
      }
      const upTo = (n: number): number[] => Array.from({ length: n + 1 }, (_, h) => h)
      const aborted = (err: unknown): boolean => isPetalError(err) && err.code === 'ABORTED' && (err.details as { height?: number } | undefined)?.height === undefined

      // Aborted on this thread in the middle of a batch ([17..32]): the next height is not taken.
      const mid = await run((h, ac) => { if (h === 20) ac.abort() })
      expect(aborted(mid.err)).toBe(true)
      expect(mid.heights).toEqual(upTo(20))
      expect(mid.blocks).toBe(21)

      // Aborted from an event, as a signal handler does: seen at the next turn of the event loop.
      const event = await run((h, ac) => { if (h === 5) setImmediate(() => { ac.abort() }) })
      expect(aborted(event.err)).toBe(true)
      const last = event.heights[event.heights.length - 1] ?? -1
      expect(last).toBeGreaterThanOrEqual(5)
      expect(last).toBeLessThanOrEqual(5 + 16)
      expect(event.heights).toEqual(upTo(last))
      expect(event.blocks).toBe(last + 1)

      // One 'abort' listener for the run's waits on its batches (abortWaits), not one per batch
      // (abortable's add and remove cost ~10-20 µs a wait), and none left once the run ends.
      const counted = new AbortController()
      let added = 0
      const add = counted.signal.addEventListener.bind(counted.signal)
      counted.signal.addEventListener = (...args: Parameters<AbortSignal['addEventListener']>) => { if (args[0] === 'abort') added++; add(...args) }
      const whole = await run(() => {}, counted)
      expect(whole.err).toBeUndefined()
      expect(whole.heights).toEqual(upTo(40))
      expect(added).toBe(1)
      expect(getEventListeners(counted.signal, 'abort')).toHaveLength(0)

      // Aborted before it starts: no block.
      const ac = new AbortController()
      ac.abort()
      const before = await run(() => {}, ac)
      expect(aborted(before.err)).toBe(true)
      expect(before.heights).toEqual([])
    } finally {
      t.chain.close()
    }
  })
})
