import Database from 'better-sqlite3'
import { join } from 'node:path'
import { expect } from 'vitest'
import { signImport, type Chain } from '../../src/chain/index.js'
import type { SigningKey } from '../../src/crypto/index.js'
import { appendChainLeaves, chainLeafOf, MemoryNodeStore, parseTrustFile, parseWitnessKey, proveRows, signatoryVkey, verifyProof, witnessKeyOf } from '../../src/proof/index.js'
import { IndexDb } from '../../src/storage/index.js'
import { toHex } from '../../src/util/index.js'
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

/**
 * What a crash may not break: chain.db's chain tree holds exactly the perfect nodes of the tree
 * over its canonical blocks, no more, no less (read-only, before any writer could repair it).
 */
export function expectStoredTreeWhole (dir: string): void {
  const idx = IndexDb.open(join(dir, 'chain.db'), { readonly: true })
  try {
    const tip = idx.tip()
    if (tip === undefined) throw new Error('empty index')
    const memory = new MemoryNodeStore()
    appendChainLeaves(memory, idx.range(0, tip.height, tip.height + 1).map(chainLeafOf))
    const raw = new Database(join(dir, 'chain.db'), { readonly: true })
    const rows = raw.prepare('SELECT level, idx, hash FROM chain_tree ORDER BY level, idx').all() as Array<{ level: number, idx: number, hash: Buffer }>
    raw.close()
    const expected: Array<{ level: number, idx: number, hash: string }> = []
    for (let level = 0; 2 ** level <= memory.size; level++) {
      for (let i = 0; i < Math.floor(memory.size / 2 ** level); i++) {
        expected.push({ level, idx: i, hash: toHex(memory.readNodes([{ level, index: i }])[0] as Uint8Array) })
      }
    }
    expect(rows.map(r => ({ level: r.level, idx: r.idx, hash: toHex(r.hash) }))).toEqual(expected)
  } finally {
    idx.close()
  }
}

/**
 * Prove row 2 of table `t` at height 1 against the latest final checkpoint, and verify it trusting
 * `signer`'s key and demanding a cosignature of each of `witnesses` (`verify-proof --witness`).
 */
export async function verifyWithWitnesses (chain: Chain, signer: SigningKey, witnesses: Array<{ name: string, key: SigningKey }>): Promise<{ ok: boolean, code?: string }> {
  const keys = await parseTrustFile(new TextEncoder().encode(await signatoryVkey(chain.chainId, signer)))
  if (typeof keys === 'string') throw new Error(keys)
  const ws = await Promise.all(witnesses.map(async w => await parseWitnessKey(await witnessKeyOf(w))))
  const proof = JSON.stringify(await proveRows(chain, { height: 1, table: 't', rows: [{ rowid: 2n }], final: true }))
  const r = await verifyProof(proof, { ...keys, witnesses: ws.map(w => { if (typeof w === 'string') throw new Error(w); return w }) }, { requireFinal: true })
  return { ok: r.ok, code: r.failure?.code }
}
