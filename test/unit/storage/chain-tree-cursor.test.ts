import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { IndexDb } from '../../../src/storage/index.js'
import { tmpDir } from '../../helpers/tmp.js'

const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString('hex')
const leaf = (i: number): Uint8Array => new Uint8Array(createHash('sha256').update(`leaf ${i}`).digest())

function rows (path: string): unknown[] {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare('SELECT level, idx, hex(hash) AS h FROM chain_tree ORDER BY level, idx').all()
  } finally {
    db.close()
  }
}

describe('the chain tree appended with the rightmost subtrees carried from append to append', () => {
  it('stores the same nodes as appends that read them back, across transactions of any length', async () => {
    // A catch-up's groups: each transaction starts without the map (it reads what it needs) and
    // carries it from block to block; the sizes cross several powers of two in and between groups.
    const plain = join(tmpDir(), 'chain.db')
    const carried = join(tmpDir(), 'chain.db')
    const a = IndexDb.open(plain)
    const b = IndexDb.open(carried)
    let n = 0
    for (const group of [1, 2, 5, 8, 13, 1, 31, 64, 3]) {
      const from = n
      await a.withWriteLock(async () => { for (let i = from; i < from + group; i++) a.tree.append(leaf(i), i) })
      await b.withWriteLock(async () => {
        const right = new Map<number, Uint8Array>()
        for (let i = from; i < from + group; i++) {
          b.tree.append(leaf(i), i, right)
          // What it carries is the root of a perfect subtree ending at the tree's last leaf, at its level.
          const size = i + 1
          for (const [level, hash] of right) {
            expect(size % 2 ** (level + 1)).toBeGreaterThanOrEqual(2 ** level)
            expect(hex(b.tree.readNodes([{ level, index: Math.floor(size / 2 ** level) - 1 }])[0])).toBe(hex(hash))
          }
          expect(right.size).toBeGreaterThan(0)
        }
      })
      n += group
    }
    a.close()
    b.close()
    expect(n).toBe(128)
    const expected = rows(plain)
    expect(expected.length).toBe(2 * 128 - 1)
    expect(rows(carried)).toEqual(expected)
  })
})
