import { describe, expect, it } from 'vitest'
import { PULL_HEAP_GROWING_PERCENT, withPullHeap } from '../../../src/node/pull-heap.js'

// A pull's sync runs with V8's old generation allowed to grow to 4× its live size between full
// collections (docs/performance.md, "Session 15: the 1 MB pull"); V8 chooses again afterwards.
describe('withPullHeap', () => {
  it('raises the growing factor for the sync only, and hands back its result', async () => {
    const set: string[] = []
    const seen: string[] = []
    const r = await withPullHeap(async () => { seen.push(...set); return 42 }, f => { set.push(f) }, [])
    expect(r).toBe(42)
    expect(PULL_HEAP_GROWING_PERCENT).toBe(300)
    expect(seen).toEqual(['--heap-growing-percent=300'])
    expect(set).toEqual(['--heap-growing-percent=300', '--heap-growing-percent=0'])
  })

  it('gives the choice back to V8 when the sync fails', async () => {
    const set: string[] = []
    await expect(withPullHeap(async () => { throw new Error('peer gone') }, f => { set.push(f) }, [])).rejects.toThrow('peer gone')
    expect(set).toEqual(['--heap-growing-percent=300', '--heap-growing-percent=0'])
  })

  it("leaves a process's own --heap-growing-percent alone", async () => {
    const set: string[] = []
    expect(await withPullHeap(async () => 'ok', f => { set.push(f) }, ['--heap-growing-percent=50'])).toBe('ok')
    expect(set).toEqual([])
  })

  it('sets the real flag without complaint', async () => {
    expect(await withPullHeap(async () => 'synced')).toBe('synced')
  })
})
