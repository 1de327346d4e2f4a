import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { waitSynced } from '../../../src/node/pull.js'
import { Notifier, type SyncProgress } from '../../../src/sync/index.js'

// `petal pull` waits for its sync: it looks every 100 ms, and at once when the sync goes idle
// (docs/performance/pull.md, "Session 16: the 1 MB pull"). Fake timers: only a wake can end the wait
// without the clock moving.
function fakeNode () {
  const s = { synced: false, height: 5 }
  const progress = (): SyncProgress => ({ state: s.synced ? 'idle' : 'syncing', height: s.height, bytes: 0, received: 0, checked: 0, phase: 'receiving', queued: { blocks: 0, bytes: 0 } })
  const node = {
    chain: { params: { maxBlockBytes: 1 << 20 } },
    sync: {
      state: progress,
      localFailure: () => undefined,
      peerTips: () => new Map([['peer', { height: 10 }]]),
      claimed: (p: string) => p === 'peer',
      isSynced: () => s.synced
    }
  }
  return { s, node: node as unknown as Parameters<typeof waitSynced>[0] }
}

describe('waitSynced', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('returns as soon as the sync goes idle, without waiting for its next poll', async () => {
    const { s, node } = fakeNode()
    const idle = new Notifier()
    const seen: number[] = []
    let done = false
    const p = waitSynced(node, 'peer', { onProgress: pr => { seen.push(pr.done) } }, idle).then(() => { done = true })
    await vi.advanceTimersByTimeAsync(250) // two polls, not synced
    expect(done).toBe(false)
    expect(seen.length).toBe(3)
    s.synced = true
    idle.notify()
    await vi.advanceTimersByTimeAsync(0)
    expect(done).toBe(true)
    await p
    idle.dispose()
  })

  it('still finds a synced chain by its poll, and a stall by the clock', async () => {
    const a = fakeNode()
    const idle = new Notifier()
    let done = false
    const p = waitSynced(a.node, 'peer', {}, idle).then(() => { done = true })
    a.s.synced = true
    await vi.advanceTimersByTimeAsync(99)
    expect(done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(done).toBe(true)
    await p

    const b = fakeNode()
    const stalled = waitSynced(b.node, 'peer', { stallMs: 1_000 }, idle)
    const failed = expect(stalled).rejects.toMatchObject({ code: 'PULL_FAILED' })
    await vi.advanceTimersByTimeAsync(1_200)
    await failed
    idle.dispose()
  })

  it('ends with AbortError when the pull is aborted', async () => {
    const { node } = fakeNode()
    const idle = new Notifier()
    const ac = new AbortController()
    const p = waitSynced(node, 'peer', { signal: ac.signal }, idle)
    const failed = expect(p).rejects.toMatchObject({ code: 'ABORTED' })
    ac.abort()
    await vi.advanceTimersByTimeAsync(0)
    await failed
    idle.dispose()
  })
})
