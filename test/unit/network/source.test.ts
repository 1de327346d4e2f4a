// chainSource.openBlock: what a node serves of its own block files. A slot that is not the
// regular file the index records is not served (and never waited on: a named pipe would stall
// the event loop).
import { describe, expect, it, vi } from 'vitest'
import { execFileSync } from 'node:child_process'
import { closeSync, readFileSync, readSync, renameSync, symlinkSync, truncateSync } from 'node:fs'
import { chainSource } from '../../../src/network/index.js'
import { importBlock } from '../../../src/chain/index.js'
import { readSeal, type BlockRecord } from '../../../src/storage/index.js'
import { extendChain, fixtureKey, forkedPair, newTestChain } from '../../helpers/chain.js'

describe('chainSource.openBlock', () => {
  it('opens a stored block with its recorded size and seal; a link, a named pipe, a changed size or a missing file is not served', async () => {
    const alice = fixtureKey('alice')
    const { chain } = await newTestChain({ key: alice })
    try {
      await extendChain(chain, alice, 4, 2)
      const source = chainSource(chain)
      const at = (h: number): BlockRecord => {
        const b = chain.get(h)
        if (b === undefined) throw new Error(`no block ${h}`)
        return b
      }
      const b1 = at(1)
      const b2 = at(2)
      const b3 = at(3)
      const b4 = at(4)
      const open = source.openBlock(b1.hash)
      expect(open).toMatchObject({ size: b1.size, seal: b1.seal })
      const head = Buffer.alloc(16)
      readSync(open?.fd as number, head, 0, 16, 0)
      closeSync(open?.fd as number)
      expect(head.toString('latin1')).toBe('SQLite format 3\0')

      // A symbolic link to a valid block file of the same size.
      renameSync(chain.pathOf(b2), `${chain.pathOf(b2)}.moved`)
      symlinkSync(`${chain.pathOf(b2)}.moved`, chain.pathOf(b2))
      expect(source.openBlock(b2.hash)).toBeUndefined()
      // A named pipe (a blocking open would hang this test).
      renameSync(chain.pathOf(b3), `${chain.pathOf(b3)}.moved`)
      execFileSync('mkfifo', [chain.pathOf(b3)])
      expect(source.openBlock(b3.hash)).toBeUndefined()
      truncateSync(chain.pathOf(b4), b4.size - 1)
      expect(source.openBlock(b4.hash)).toBeUndefined()
      expect(source.openBlock('00'.repeat(32))).toBeUndefined()
    } finally {
      chain.close()
    }
  })

  it('serves canonical and side blocks by a four-column lookup (IndexDb.storedFile), not byHash\'s whole record', async () => {
    const alice = fixtureKey('alice')
    const { a, b } = await forkedPair(alice, 2)
    try {
      await extendChain(a, alice, 2, 1)
      await extendChain(b, alice, 1, 9)
      const side = b.get(3)
      if (side === undefined) throw new Error('no block 3 on b')
      expect((await importBlock(a, b.pathOf(side), readSeal(b.pathOf(side)))).status).toBe('side')
      const canonical = a.get(3)
      if (canonical === undefined) throw new Error('no block 3 on a')
      expect(a.index.storedFile(side.hash)).toEqual([3, 0, side.seal, side.size])
      expect(a.index.storedFile(canonical.hash)).toEqual([3, 1, canonical.seal, canonical.size])
      expect(a.index.storedFile('00'.repeat(32))).toBeUndefined()
      const byHash = vi.spyOn(a.index, 'byHash')
      const source = chainSource(a)
      // Each is served from its own file: the side block's under forks/, not the canonical one at its height.
      for (const r of [{ ...side, canonical: false }, canonical]) {
        const open = source.openBlock(r.hash)
        expect(open).toMatchObject({ size: r.size, seal: r.seal })
        const bytes = Buffer.alloc(r.size)
        readSync(open?.fd as number, bytes, 0, r.size, 0)
        closeSync(open?.fd as number)
        expect(bytes.equals(readFileSync(a.pathOf(r)))).toBe(true)
      }
      expect(readFileSync(a.pathOf({ ...side, canonical: false })).equals(readFileSync(a.pathOf(canonical)))).toBe(false)
      expect(byHash).not.toHaveBeenCalled()
    } finally {
      a.close()
      b.close()
    }
  })
})
