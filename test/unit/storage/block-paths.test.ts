import { describe, expect, it } from 'vitest'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BlockPaths, DataDir, refuseUnplaceableRange } from '../../../src/storage/index.js'
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

describe('refuseUnplaceableRange (a sync checks where a branch goes before its download)', () => {
  // The range's top is a peer's claim: a header a signatory sealed at a height near 2^53 made the
  // check a loop over every block directory up to it (2^37 of them) on the event loop (review56b of
  // ca992075). Those not made yet are all made in the data directory: checked once.
  it('checks the block directories that exist and the first one not made yet, whatever height is claimed', () => {
    const root = tmpDir()
    const dir = new DataDir(root)
    mkdirSync(dir.shardDir(0), { recursive: true })
    mkdirSync(dir.tmpDir, { recursive: true })
    refuseUnplaceableRange(dir, 1, Number.MAX_SAFE_INTEGER)
  })
})
