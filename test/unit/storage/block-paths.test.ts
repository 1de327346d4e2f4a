import { describe, expect, it } from 'vitest'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BlockPaths, DataDir } from '../../../src/storage/index.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('BlockPaths (verify workers: a height range instead of a path per block)', () => {
  it('gives DataDir.blockPath for every root shape and across shard boundaries', () => {
    const heights = [0, 1, 15, 16, 255, 65535, 65536, 65537, 131071, 131072, 0xfffff, 0x1234567, 2 ** 31 - 1, 2 ** 32 + 5]
    for (const root of ['/', '/a/b', '/a/b/', '/a//b/./c/..', 'rel', 'rel/', './rel', '../up/x', '.', '']) {
      const dir = new DataDir(root)
      const paths = new BlockPaths(dir.blocksRoot)
      // Asked in order, out of order and again: the shard kept from the last call must not leak.
      for (const h of [...heights, ...heights.slice().reverse(), ...heights]) expect(paths.path(h)).toBe(dir.blockPath(h))
    }
  })

  it('uses a Daisy directory\'s blocks/ when the data directory is the derived state of one', () => {
    const t = tmpDir()
    mkdirSync(join(t, 'daisy', 'blocks'), { recursive: true })
    writeFileSync(join(t, 'daisy-source.json'), JSON.stringify({ daisy_dir: 'daisy' }))
    const dir = new DataDir(t)
    expect(dir.blocksRoot).toBe(join(t, 'daisy', 'blocks'))
    const paths = new BlockPaths(dir.blocksRoot)
    for (const h of [0, 7, 65536]) expect(paths.path(h)).toBe(dir.blockPath(h))
  })
})
