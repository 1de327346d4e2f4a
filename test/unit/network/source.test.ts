// chainSource.openBlock: what a node serves of its own block files. A slot that is not the
// regular file the index records is not served (and never waited on: a named pipe would stall
// the event loop).
import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { closeSync, readSync, renameSync, symlinkSync, truncateSync } from 'node:fs'
import { chainSource } from '../../../src/network/index.js'
import type { BlockRecord } from '../../../src/storage/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'

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
})
