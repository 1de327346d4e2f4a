import { afterEach, describe, expect, it, vi } from 'vitest'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { DataDir, tmpBlockPath } from '../../../src/storage/index.js'

describe('tmpBlockPath', () => {
  afterEach(() => { vi.useRealTimers() })

  it('makes tmp/ again when it was removed under a running process, within a second', () => {
    vi.useFakeTimers({ toFake: ['hrtime'] })
    const root = mkdtempSync(join(tmpdir(), 'petal-tmp-path-'))
    try {
      const dir = new DataDir(root)
      const first = tmpBlockPath(dir)
      expect(existsSync(dirname(first))).toBe(true)
      rmSync(dir.tmpDir, { recursive: true })
      tmpBlockPath(dir) // cached: no system call per path
      expect(existsSync(dir.tmpDir)).toBe(false)
      vi.advanceTimersByTime(1_000)
      const again = tmpBlockPath(dir)
      expect(existsSync(dirname(again))).toBe(true)
      expect(again).not.toBe(first)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
