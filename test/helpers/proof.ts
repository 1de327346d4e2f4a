import Database from 'better-sqlite3'
import { join } from 'node:path'
import { signImport, type Chain } from '../../src/chain/index.js'
import type { SigningKey } from '../../src/crypto/index.js'
import { appendChainLeaves, chainLeafOf, MemoryNodeStore } from '../../src/proof/index.js'
import { extendChain, newTestChain } from './chain.js'
import { tmpDir } from './tmp.js'

/** The chain tree of a chain's canonical blocks, rebuilt from its index. */
export function chainTreeOf (chain: Chain): MemoryNodeStore {
  const store = new MemoryNodeStore()
  appendChainLeaves(store, chain.index.range(0, chain.tip().height, chain.tip().height + 1).map(chainLeafOf))
  return store
}

/**
 * A table with every storage class and the awkward values: 64-bit extremes, -0.0, ±Infinity,
 * unicode text, empty and binary BLOBs, NULLs. `rowid` 1…n; row 3 is the one the tests prove.
 */
export function makeTypedSqlite (path: string, extraRows = 0): string {
  const db = new Database(path)
  db.exec('CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, score REAL, photo BLOB, big INTEGER)')
  db.exec('CREATE TABLE tags (tag TEXT NOT NULL, n INTEGER, PRIMARY KEY (tag)) WITHOUT ROWID')
  db.exec('CREATE TABLE notes (body TEXT)')
  const ins = db.prepare('INSERT INTO people (id, name, score, photo, big) VALUES (?, ?, ?, ?, ?)')
  db.transaction(() => {
    ins.run(1, 'ann', 1.5, null, 9007199254740993n)
    ins.run(2, 'bob', null, Buffer.from('dead', 'hex'), -9223372036854775808n)
    ins.run(3, 'zoë ✓ 𝄞', 0.1 + 0.2, Buffer.alloc(0), 9223372036854775807n)
    ins.run(4, null, Infinity, Buffer.from([0, 255, 1]), 0n)
    ins.run(5, '', -Infinity, null, -1n)
    db.prepare('INSERT INTO people (id, score) VALUES (?, ?)').run(-7, 5e-324)
    for (let i = 0; i < extraRows; i++) ins.run(6 + i, `p${i}`, i / 7, null, BigInt(i))
    for (const [t, n] of [['b', 2], ['a', 1], ['c', null]] as const) db.prepare('INSERT INTO tags VALUES (?, ?)').run(t, n)
    db.prepare('INSERT INTO notes VALUES (?)').run('hello')
  })()
  db.close()
  return path
}

export interface ProvableChain { chain: Chain, key: SigningKey, tree: MemoryNodeStore, typedHeight: number }

/** A real chain: genesis, two small blocks, the typed block, two more blocks; max_reorg_depth 2. */
export async function provableChain (o: { key?: SigningKey, extraRows?: number } = {}): Promise<ProvableChain> {
  const { chain, key } = await newTestChain({ key: o.key, consensus: { maxReorgDepth: 2 } })
  await extendChain(chain, key, 2)
  const r = await signImport(chain, makeTypedSqlite(join(tmpDir(), 'typed.db'), o.extraRows), key)
  await extendChain(chain, key, 2)
  return { chain, key, tree: chainTreeOf(chain), typedHeight: r.block.height }
}
