// The network bench's settle before a timed pull (bench/settle.ts): a deletion of the bench dated
// in its cache directory, and the idle that waits out the kernel's window of recently freed inodes
// after it (docs/performance/catchup.md, "Session 54: the bench's own deletions before the catch-up (pipe54)").
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { idleMs, lastDeletion, RECENT_DELETION_MS, removeAndMark, settle } from '../../../bench/settle.js'

const roots: string[] = []
afterEach(() => {
  vi.unstubAllEnvs()
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true })
})
function root (): string {
  const r = mkdtempSync(join(tmpdir(), 'petal-settle-'))
  roots.push(r)
  return r
}

describe('settle before a timed pull', () => {
  it('dates a deletion of the bench in its cache directory, for the next run too', () => {
    const r = root()
    const cache = join(r, 'cache')
    const pulled = join(r, 'pulled')
    mkdirSync(join(pulled, 'blocks'), { recursive: true })
    writeFileSync(join(pulled, 'blocks', '1.db'), 'x')
    expect(lastDeletion(cache)).toBe(0)
    const before = Date.now()
    removeAndMark(pulled, cache)
    expect(existsSync(pulled)).toBe(false)
    expect(lastDeletion(cache)).toBeGreaterThanOrEqual(before)
    expect(lastDeletion(cache)).toBeLessThanOrEqual(Date.now())
  })

  it('idles until the window after the last deletion has passed, 5 s at least', () => {
    const deleted = 1_000_000
    // 7 s after a clean-up (the next run's processes started): the rest of the window.
    expect(idleMs({ settleMs: 5000, deleted, now: deleted + 7000, waitDeletion: true })).toBe(RECENT_DELETION_MS - 7000)
    // The settle before session 54, kept for alternated runs (PETAL_BENCH_DELETION_WAIT=0).
    expect(idleMs({ settleMs: 5000, deleted, now: deleted + 7000, waitDeletion: false })).toBe(5000)
    // Long after, or with no deletion recorded: the settle's own idle.
    expect(idleMs({ settleMs: 5000, deleted, now: deleted + 120_000, waitDeletion: true })).toBe(5000)
    expect(idleMs({ settleMs: 5000, deleted: 0, now: deleted, waitDeletion: true })).toBe(5000)
  })

  it('waits out the window in settle() and says how long after the deletion it began', async () => {
    const cache = join(root(), 'cache')
    removeAndMark(join(cache, 'none'), cache, Date.now() - RECENT_DELETION_MS + 300)
    vi.stubEnv('PETAL_BENCH_SETTLE_MS', '0')
    const lines: string[] = []
    const t0 = performance.now()
    const done = await settle('the test', cache, s => { lines.push(s) })
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250)
    expect(done).toMatch(/idle, 61 s after the bench's last deletion$/)
    expect(lines).toEqual([`before the test: ${done}`])
  })
})
