// A verify worker sends an ordinary block's Candidate as a flat tuple: what the in-order thread
// rebuilds from it must be what it was sent, field for field, through a structured clone.
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { deserialize, serialize } from 'node:v8'
import { readBlockPages } from '../../../src/block/index.js'
import { signImport } from '../../../src/chain/index.js'
import { fromTuple, toTuple } from '../../../src/chain/candidate-tuple.js'
import type { Candidate } from '../../../src/chain/validate/index.js'
import { fixtureKey, keyOpBlock, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'
import { join } from 'node:path'

describe('an ordinary block\'s Candidate as a tuple', () => {
  it('comes back as it was sent; the genesis and blocks with key operations go as objects', async () => {
    const t = await newTestChain({ key: fixtureKey('alice') })
    try {
      await signImport(t.chain, undefined, t.key)
      await signImport(t.chain, makeSqlite(join(tmpDir(), 'rows.db'), 20), t.key)
      await keyOpBlock(t.chain, t.key, 'A', fixtureKey('bob'))
      const seen: string[] = []
      for (let h = 0; h <= 3; h++) {
        const path = t.chain.dir.blockPath(h)
        const file = readBlockPages(path, 1 << 26, readFileSync(path))
        if (file === undefined) throw new Error(`block ${h} not read`)
        const hex = t.key.publicKey.hex
        for (const verified of [undefined, { key: hex, prev: true, seal: false }, { key: hex, prev: false, seal: true }]) {
          const c: Candidate = { hash: `${h}`.repeat(64), seal: 'ab'.repeat(36), file: { size: file.size, header: file.header, keyOps: file.keyOps, tables: file.tables }, verified }
          const tuple = toTuple(c)
          seen.push(`${h}:${tuple === undefined ? 'object' : 'tuple'}`)
          if (tuple === undefined) continue
          const back = fromTuple(deserialize(serialize(tuple)) as typeof tuple)
          expect(back).toStrictEqual(deserialize(serialize(c)))
          expect(Object.keys(back.file.header)).toEqual(Object.keys(c.file.header))
        }
      }
      expect([...new Set(seen)]).toEqual(['0:object', '1:tuple', '2:tuple', '3:object'])
    } finally {
      t.chain.close()
    }
  })
})
