import { describe, expect, it, vi } from 'vitest'
import { Progress } from '../../../src/cli/progress.js'

describe('progress display', () => {
  it('without a terminal: one line per interval, the completed state once, rates from the starting count', () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    try {
      const lines: string[] = []
      const p = new Progress({ label: 'pull', unit: 'blocks', enabled: true, isTTY: false, write: s => { lines.push(s) } })
      p.update(100, 200) // a resumed pull: 100 blocks were already there
      for (let i = 0; i < 49; i++) { vi.advanceTimersByTime(100); p.update(101, 200) }
      expect(lines).toHaveLength(1)
      vi.advanceTimersByTime(100)
      p.update(200, 200) // drawn at once: 5 s have not passed
      expect(lines[1]).toBe('pull: 200/200 blocks 20 blocks/s\n') // (200 - 100) blocks in 5 s
      // Polled every 100 ms at the total (a pull waiting for its peers): still one line per 5 s.
      for (let i = 0; i < 100; i++) { vi.advanceTimersByTime(100); p.update(200, 200) }
      expect(lines).toHaveLength(4)
    } finally {
      vi.useRealTimers()
    }
  })

  it('prints nothing when disabled (--json)', () => {
    const lines: string[] = []
    const p = new Progress({ label: 'verify', unit: 'blocks', enabled: false, isTTY: true, write: s => { lines.push(s) } })
    p.update(1, 1)
    p.done()
    expect(lines).toEqual([])
  })
})
