import type Database from 'better-sqlite3'
import { nodeHash } from '../crypto/index.js'
import { StorageError } from './errors.js'

/** A perfect subtree of the chain tree: level k, index i covers leaves [i·2^k, (i+1)·2^k). */
export interface TreeNodeId { readonly level: number, readonly index: number }

export const CHAIN_TREE_SCHEMA = `
CREATE TABLE IF NOT EXISTS chain_tree (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
  PRIMARY KEY (level, idx)) WITHOUT ROWID;
`

/**
 * The chain tree's perfect subtrees in `chain.db` (RFC 6962 over canonical blocks by height,
 * docs/proofs.md): O(n) rows, appended and truncated in the same transaction as the canonical
 * chain they describe, so a crash can never leave them apart. Structurally a proof NodeStore:
 * every proof reads its nodes with one query.
 */
export class ChainTreeTable {
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>()

  constructor (private readonly db: Database.Database, private readonly assertTx: () => void) {}

  private stmt<R = unknown> (sql: string): Database.Statement<unknown[], R> {
    const cached = this.statements.get(sql)
    if (cached !== undefined) return cached as Database.Statement<unknown[], R>
    const st = this.db.prepare<unknown[], R>(sql)
    this.statements.set(sql, st)
    return st
  }

  /** Number of leaves (the highest stored leaf + 1; an index lookup, not a count). */
  get size (): number {
    const max = this.stmt<number | null>('SELECT max(idx) FROM chain_tree WHERE level = 0').pluck().get()
    return max === null || max === undefined ? 0 : max + 1
  }

  private node (level: number, index: number): Uint8Array {
    const h = this.stmt<Buffer>('SELECT hash FROM chain_tree WHERE level = ? AND idx = ?').pluck().get(level, index)
    if (h === undefined) throw corrupt(`node (${level}, ${index}) is missing`)
    return new Uint8Array(h)
  }

  /**
   * Append one leaf hash, storing every perfect node it completes. `size`: the tree's size as the
   * caller read it in this transaction (a catch-up appends a leaf per block: one query fewer each).
   * `right`: the roots of the tree's rightmost perfect subtrees by level, as earlier appends in
   * this transaction left them (missing ones are read), updated for the next append: a group's
   * appends read back none of the nodes they wrote.
   */
  append (leaf: Uint8Array, size = this.size, right?: Map<number, Uint8Array>): void {
    this.assertTx()
    if (leaf.length !== 32) throw new RangeError('a leaf hash is 32 bytes')
    const ins = this.stmt('INSERT INTO chain_tree (level, idx, hash) VALUES (?, ?, ?)')
    let index = size
    let hash = leaf
    let level = 0
    ins.run(level, index, hash)
    while (index % 2 === 1) {
      hash = nodeHash(right?.get(level) ?? this.node(level, index - 1), hash)
      // That subtree is inside the new node now: no later append pairs with it.
      right?.delete(level)
      index = (index - 1) / 2
      level++
      ins.run(level, index, hash)
    }
    right?.set(level, hash)
  }

  /** Drop leaves from `size` on, and every node that covers one of them (a reorg). */
  truncate (size: number): void {
    this.assertTx()
    const old = this.size
    if (!Number.isSafeInteger(size) || size < 0 || size > old) throw new RangeError(`cannot truncate a tree of ${old} leaves to ${size}`)
    const del = this.stmt('DELETE FROM chain_tree WHERE level = ? AND idx >= ?')
    for (let level = 0; 2 ** level <= old; level++) del.run(level, Math.floor(size / 2 ** level))
  }

  /** Empty the tree (reindex rebuilds it in the same transaction). */
  clear (): void {
    this.assertTx()
    this.stmt('DELETE FROM chain_tree').run()
  }

  /** The hashes of `ids`, in order (undefined where not stored), read with one query. */
  readNodes (ids: readonly TreeNodeId[]): Array<Uint8Array | undefined> {
    if (ids.length === 0) return []
    const rows = this.stmt<{ hash: Buffer | null }>(
      `SELECT t.hash AS hash FROM json_each(?) j
       LEFT JOIN chain_tree t ON t.level = json_extract(j.value, '$[0]') AND t.idx = json_extract(j.value, '$[1]')
       ORDER BY j.key`
    ).all(JSON.stringify(ids.map(id => [id.level, id.index])))
    return ids.map((_, i) => {
      const h = rows[i]?.hash
      return h === null || h === undefined ? undefined : new Uint8Array(h)
    })
  }
}

function corrupt (what: string): StorageError {
  return new StorageError('INDEX_CORRUPT', `the chain tree in chain.db is damaged: ${what}`, { hint: 'rebuild it from the block files with `petal reindex`' })
}
