import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { UPLOAD_HEAP_GROWING_PERCENT, UPLOAD_HEAP_IDLE_MS, UploadHeap } from '../../../src/network/upload-heap.js'
import { withPullHeap } from '../../../src/node/pull-heap.js'
import { HeapGrowth } from '../../../src/util/index.js'

// While blocks are served, V8's old generation may grow to 4× its live size; V8 chooses again
// once uploads have stopped for a while (docs/performance/pull.md, "Session 16: the 1 MB pull").
describe('UploadHeap', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('raises the growing factor for the first upload, keeps it across uploads that follow closely, and gives it back when idle', () => {
    const set: string[] = []
    const h = new UploadHeap(new HeapGrowth(f => { set.push(f) }, []))
    h.enter()
    h.enter()
    expect(UPLOAD_HEAP_GROWING_PERCENT).toBe(300)
    expect(set).toEqual(['--heap-growing-percent=300'])
    h.leave()
    h.leave()
    vi.advanceTimersByTime(UPLOAD_HEAP_IDLE_MS - 1)
    h.enter() // the next range comes before the idle time: nothing is set again
    h.leave()
    vi.advanceTimersByTime(UPLOAD_HEAP_IDLE_MS - 1)
    expect(set).toEqual(['--heap-growing-percent=300'])
    vi.advanceTimersByTime(1)
    expect(set).toEqual(['--heap-growing-percent=300', '--heap-growing-percent=0'])
    h.enter()
    expect(set.at(-1)).toBe('--heap-growing-percent=300')
    h.restore() // an upload still runs: kept
    expect(set.length).toBe(3)
    h.leave()
    h.restore()
    expect(set.at(-1)).toBe('--heap-growing-percent=0')
  })

  it("leaves a process's own --heap-growing-percent alone", () => {
    const set: string[] = []
    const h = new UploadHeap(new HeapGrowth(f => { set.push(f) }, ['--heap-growing-percent=50']))
    h.enter()
    h.leave()
    vi.advanceTimersByTime(UPLOAD_HEAP_IDLE_MS)
    expect(set).toEqual([])
  })

  it('sets the real flag without complaint', () => {
    const h = new UploadHeap()
    h.enter()
    h.leave()
    h.restore()
  })

  // One process's factor: a pull's node serves peers too, and `pull --follow`'s node serves after it.
  it("shares the factor with a pull's sync: neither gives V8 its choice back while the other holds it", async () => {
    const set: string[] = []
    const growth = new HeapGrowth(f => { set.push(f) }, [])
    const h = new UploadHeap(growth)
    let endSync = (): void => {}
    const pulling = withPullHeap(async () => { await new Promise<void>(resolve => { endSync = resolve }) }, growth)
    expect(set).toEqual(['--heap-growing-percent=300'])
    // A peer fetches from the pulling node; its upload ends and the idle time passes mid-sync.
    h.enter()
    h.leave()
    vi.advanceTimersByTime(UPLOAD_HEAP_IDLE_MS)
    expect(set).toEqual(['--heap-growing-percent=300'])
    // An upload runs when the sync ends: still raised, then V8's once the uploads are idle.
    h.enter()
    endSync()
    await pulling
    expect(set).toEqual(['--heap-growing-percent=300'])
    h.leave()
    vi.advanceTimersByTime(UPLOAD_HEAP_IDLE_MS)
    expect(set).toEqual(['--heap-growing-percent=300', '--heap-growing-percent=0'])
    // The next upload raises it again.
    h.enter()
    expect(set.at(-1)).toBe('--heap-growing-percent=300')
  })
})
