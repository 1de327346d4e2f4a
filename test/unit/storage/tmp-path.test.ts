import { afterEach, describe, expect, it, vi } from 'vitest'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { DataDir, placeBlock, prepareBlockFiles, sealPathOf, tmpBlockPath } from '../../../src/storage/index.js'
import { isPetalError } from '../../../src/util/index.js'

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

// A journal's replay may find a file moved already (renameBlock skips it); a placement may not:
// its index row follows, and would record a block whose file is gone.
describe('placeBlock', () => {
  it('fails with BLOCK_FILE_MISSING when the prepared file left tmp/ before its placement, instead of placing nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'petal-place-'))
    try {
      const dir = new DataDir(root)
      const tmp = tmpBlockPath(dir)
      writeFileSync(tmp, 'block bytes')
      await prepareBlockFiles(tmp, 'seal')
      rmSync(tmp) // an operator's rm under the writer
      let code = 'none'
      try { placeBlock(tmp, dir.blockPath(1), 'seal', true) } catch (err) { code = isPetalError(err) ? err.code : String(err) }
      expect(code).toBe('BLOCK_FILE_MISSING')
      expect(existsSync(dir.blockPath(1))).toBe(false)
      // A whole one is placed, replacing what a failed import left at its slot.
      const next = tmpBlockPath(dir)
      writeFileSync(next, 'new block')
      writeFileSync(dir.blockPath(1), 'stale')
      await prepareBlockFiles(next, 'seal2')
      placeBlock(next, dir.blockPath(1), 'seal2', true)
      expect(readFileSync(dir.blockPath(1), 'utf8')).toBe('new block')
      expect(readFileSync(sealPathOf(dir.blockPath(1)), 'utf8')).toBe('seal2\n')
      expect(existsSync(next)).toBe(false)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
