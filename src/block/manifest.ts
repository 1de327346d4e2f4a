import type Database from 'better-sqlite3'
import { MerkleBuilder, EMPTY_TREE_ROOT, leavesRoot, prefixedLeafHash } from '../crypto/index.js'
import { toHex, throwIfAborted } from '../util/index.js'
import { RowEncoder, type SqlValue } from './row-codec.js'
import { heldStatement } from './held-db.js'
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

/** ORDER BY of a table's canonical row order: rowid order, or primary-key order for WITHOUT ROWID. */
export function canonicalOrder (t: UserTable): string {
  return t.withoutRowid ? t.primaryKey.map(quoteIdent).join(', ') : t.rowidAlias
}

/**
 * The table in a FROM clause of a canonical read, pinned to the table's own b-tree: the rowid
 * table, or a WITHOUT ROWID table's primary-key index. SQLite would otherwise read a secondary
 * index that covers the columns (it does for WITHOUT ROWID tables even with NOT INDEXED), and
 * quick_check does not compare an index's content with its table's: which rows a block commits to
 * would depend on the query planner (its version, a block's sqlite_stat1), and the fast path,
 * which reads the table's b-tree, could not serve such tables.
 */
export function canonicalSource (t: UserTable): string {
  return `${quoteIdent(t.name)} ${t.withoutRowid ? `INDEXED BY ${quoteIdent(t.primaryKeyIndex)}` : 'NOT INDEXED'}`
}

/** SELECT of a table's rows in canonical order. */
export function canonicalRowsSql (t: UserTable): string {
  return `SELECT ${t.columns.map(quoteIdent).join(', ')} FROM ${canonicalSource(t)} ORDER BY ${canonicalOrder(t)}`
}

// Rowid tables are read in chunks of this many rows (`WHERE rowid > ? LIMIT n`): bulk `.all()`
// is cheaper per row than stepping an iterator, and memory stays bounded.
const CHUNK = 4096

/** Called with the number of rows just hashed, every few thousand rows. */
export type OnRows = (rows: number) => void

/** Merkle root and count of a table's rows: leaf = SHA-256(0x00 ‖ encoded row). */
export function tableRoot (db: Db, t: UserTable, signal?: AbortSignal, onRows?: OnRows): { rows: number, root: string } {
  const tree = new MerkleBuilder()
  const n = hashRows(db, t, tree, {}, signal, onRows)
  return { rows: n, root: toHex(tree.root()) }
}

/**
 * tableRoot of a table of a few hundred rows (the build's SQLite path): its rows read in one
 * `all()`, every leaf encoded into one buffer and the root computed in one call (leavesRoot), where
 * a hash call and a MerkleBuilder node per row cost a 100-row import ~1.5 M instructions more
 * (docs/performance/import.md, "Session 25: the 100-row import"). The same rows in the same order.
 */
export function smallTableRoot (db: Db, t: UserTable, onRows?: OnRows): { rows: number, root: string } {
  const rows = db.prepare<unknown[], SqlValue[]>(canonicalRowsSql(t)).raw(true).safeIntegers(true).all()
  const enc = new RowEncoder()
  const ends = new Uint32Array(rows.length)
  for (let i = 0; i < rows.length; i++) ends[i] = enc.appendLeaf(rows[i] ?? [])
  onRows?.(rows.length)
  return { rows: rows.length, root: toHex(leavesRoot(enc.appended(), ends)) }
}

/** Where hashRows sends leaf hashes: a MerkleBuilder, or a proof builder collecting paths. */
export interface LeafSink { push: (leaf: Uint8Array) => void }

/**
 * Push the leaf hashes of a table's rows into `tree` in canonical order, optionally only rows with
 * `after < rowid <= upto` (a chunk of a rowid table). Returns the number of rows.
 */
export function hashRows (db: Db, t: UserTable, tree: LeafSink, range: { after?: bigint, upto?: bigint }, signal?: AbortSignal, onRows?: OnRows): number {
  const enc = new RowEncoder()
  let n = 0
  if (t.withoutRowid) {
    for (const row of db.prepare<unknown[], SqlValue[]>(canonicalRowsSql(t)).raw(true).safeIntegers(true).iterate()) {
      tree.push(prefixedLeafHash(enc.encodeLeaf(row)))
      if ((++n & 0xfff) === 0) { throwIfAborted(signal); onRows?.(0x1000) }
    }
    onRows?.(n & 0xfff)
    return n
  }
  const rowid = t.rowidAlias
  const cols = t.columns.map(quoteIdent).join(', ')
  const upto = range.upto === undefined ? '' : ` AND ${rowid} <= ${range.upto}`
  const select = `SELECT ${rowid}, ${cols} FROM ${canonicalSource(t)}`
  const sqlOf = (where: string): string => `${select} WHERE ${where}${upto} ORDER BY ${rowid} LIMIT ${CHUNK}`
  const prepare = (where: string): Database.Statement<unknown[], SqlValue[]> => db.prepare<unknown[], SqlValue[]>(sqlOf(where)).raw(true).safeIntegers(true)
  // `next` is prepared only for a table of more than one chunk (preparing costs a small block's hashing).
  let next: Database.Statement<unknown[], SqlValue[]> | undefined
  const after = `${rowid} > ?`
  let last = range.after
  for (;;) {
    // The first chunk's statement is kept on a kept held connection (heldStatement): a small table's only one.
    const rows = last === undefined ? heldStatement(db, sqlOf('1'), () => prepare('1')).all() : (next ??= prepare(after)).all(last)
    for (const row of rows) tree.push(prefixedLeafHash(enc.encodeLeaf(row, 1)))
    n += rows.length
    onRows?.(rows.length)
    if (rows.length < CHUNK) break
    // The first column is the rowid, read as a bigint (safeIntegers).
    const rowid = rows.at(-1)?.[0]
    if (typeof rowid !== 'bigint') throw new TypeError('rowid is not an integer')
    last = rowid
    throwIfAborted(signal)
  }
  return n
}

// RowsRoot of a block without user tables (plain verify compares it per block).
const EMPTY_ROOT_HEX = toHex(EMPTY_TREE_ROOT)

/** `RowsRoot`: the Merkle root over `_tables` rows (name, sql, rows, root), in name order. */
export function rowsRootOf (tables: readonly TableEntry[]): string {
  if (tables.length === 0) return EMPTY_ROOT_HEX
  const enc = new RowEncoder()
  const tree = new MerkleBuilder()
  for (const t of tables) tree.push(prefixedLeafHash(enc.encodeLeaf([t.name, t.sql, BigInt(t.rows), t.root])))
  return toHex(tree.root())
}

/** Compute the manifest of a block from its content. */
export function computeManifest (db: Db, tables: readonly UserTable[], signal?: AbortSignal): Manifest {
  const entries = tables.map(t => ({ name: t.name, sql: t.sql, ...tableRoot(db, t, signal) }))
  return { tables: entries, rowsRoot: rowsRootOf(entries) }
}
