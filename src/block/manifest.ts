import { createHash } from 'node:crypto'
import { MerkleBuilder, EMPTY_TREE_ROOT } from '../crypto/index.js'
import { toHex, throwIfAborted } from '../util/index.js'
import { RowEncoder, type SqlValue } from './row-codec.js'
import { quoteIdent, type Db } from './sqlite.js'
import type { UserTable } from './schema.js'

/** One row of `_tables`: a user table's schema, row count and RFC 6962 root over its rows. */
export interface TableEntry {
  name: string
  sql: string
  rows: number
  root: string
}

export interface Manifest {
  tables: TableEntry[]
  /** Merkle root over the `_tables` rows, in name order. */
  rowsRoot: string
}

const LEAF_PREFIX = Uint8Array.of(0x00)

/** SELECT of a table's rows in canonical order: rowid order, or primary-key order for WITHOUT ROWID. */
export function canonicalRowsSql (t: UserTable): string {
  const cols = t.columns.map(quoteIdent).join(', ')
  const order = t.withoutRowid ? t.primaryKey.map(quoteIdent).join(', ') : (t.rowidAlias as string)
  return `SELECT ${cols} FROM ${quoteIdent(t.name)} ORDER BY ${order}`
}

/** Leaf hash of one encoded row: SHA-256(0x00 ‖ row). */
function rowLeaf (encoded: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(LEAF_PREFIX).update(encoded).digest())
}

/** Merkle root and count of a table's rows. */
export function tableRoot (db: Db, t: UserTable, signal?: AbortSignal): { rows: number, root: string } {
  const stmt = db.prepare(canonicalRowsSql(t)).raw(true).safeIntegers(true)
  const enc = new RowEncoder()
  const tree = new MerkleBuilder()
  let n = 0
  for (const row of stmt.iterate() as IterableIterator<SqlValue[]>) {
    tree.push(rowLeaf(enc.encode(row)))
    if ((++n & 0xfff) === 0) throwIfAborted(signal)
  }
  return { rows: n, root: toHex(tree.root()) }
}

/** `RowsRoot`: the Merkle root over `_tables` rows (name, sql, rows, root), in name order. */
export function rowsRootOf (tables: readonly TableEntry[]): string {
  if (tables.length === 0) return toHex(EMPTY_TREE_ROOT)
  const enc = new RowEncoder()
  const tree = new MerkleBuilder()
  for (const t of tables) tree.push(rowLeaf(enc.encode([t.name, t.sql, BigInt(t.rows), t.root])))
  return toHex(tree.root())
}

/** Compute the manifest of a block from its content. */
export function computeManifest (db: Db, tables: readonly UserTable[], signal?: AbortSignal): Manifest {
  const entries = tables.map(t => ({ name: t.name, sql: t.sql, ...tableRoot(db, t, signal) }))
  return { tables: entries, rowsRoot: rowsRootOf(entries) }
}
