import { describe, expect, it } from 'vitest'
import { existsSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { chunkCache } from '../../../src/proof/index.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('the proof cache file of a data directory', () => {
  it('a symbolic link as proof-cache.db is never written through: the cache is skipped, the proof computed', () => {
    const dir = tmpDir()
    const elsewhere = join(tmpDir(), 'not-in-the-data-directory.db')
    const file = join(dir, 'proof-cache.db')
    symlinkSync(elsewhere, file)
    const cache = chunkCache(file)
    cache.put('ab'.repeat(32), 't', { rows: 0, ends: [], roots: [], tail: [] })
    expect(existsSync(elsewhere), 'the link target was created').toBe(false)
    expect(chunkCache(file).get('cd'.repeat(32), 't')).toBeUndefined()
  })
})
