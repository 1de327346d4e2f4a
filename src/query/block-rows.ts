import { diskFailureOf, type SqlValue } from '../block/index.js'
import type { SqliteDb } from '../storage/index.js'
import { errorCode, errorMessage } from '../util/index.js'
import { QueryError } from './errors.js'
import { openBlockChecked, type BlockRef } from './sandbox/block-file.js'

export interface BlockRowsPage {
  /** The table's name as the block spells it. */
  table: string
  /** 'rowid': rows carry their rowid first; 'position': a WITHOUT ROWID table (or one whose rowid names are all taken by columns), paged by position in primary-key order. */
  paging: 'rowid' | 'position'
  columns: string[]
  rows: SqlValue[][]
  /** Where the next page starts (undefined: this was the last). */
  nextAfterRowid?: bigint
  nextOffset?: number
  /**
   * The table's columns this block encrypts (docs/confidential.md), and the key ids of their
   * recipients: their values are sealed BLOBs, which only a recipient opens, on its own node.
   */
  encrypted: { columns: string[], recipients: string[] }
}

export interface BlockRowsRequest {
  table: string
  /** Rows with a rowid above this (rowid paging). */
  afterRowid?: bigint
  /** Rows from this position on (position paging; also accepted for rowid tables). */
  offset?: number
  limit: number
  /** Stop adding rows once this many bytes of values are in the page (at least one row is returned). */
  maxBytes: number
}

const ROWID_NAMES = ['rowid', '_rowid_', 'oid']

/**
 * A page of one table's rows, read from the block file itself (opened read-only and checked to be
 * the block the index names), in the block's canonical order: rowid, or primary key for WITHOUT
 * ROWID tables — the order of its Merkle leaves. Undefined when the block has no such table.
 * Integers come back as bigint, exactly.
 */
export function readBlockRows (dataDir: string, ref: BlockRef, o: BlockRowsRequest): BlockRowsPage | undefined {
  const db = openBlockChecked(dataDir, ref)
  try {
    return rowsOf(db, o)
  } catch (err) {
    if (errorCode(err) !== 'SQLITE_CORRUPT') throw err
    // A page read the disk failed (EIO) comes as SQLite's "malformed": it was a 500 "this is a
    // bug" (mend35). The disk's failure (the file unreadable, or the same read passing on a new
    // connection) is its errno's error, IO_ERROR; a block that stays malformed is the file's.
    const again = (): void => { const d = openBlockChecked(dataDir, ref); try { rowsOf(d, o) } finally { d.close() } }
    throw diskFailureOf(err, db.name, again) ?? new QueryError('QUERY_BLOCK_UNREADABLE', `block ${ref.height} (${ref.hash.slice(0, 12)}…): SQLite cannot read its rows: ${errorMessage(err)}`, {
      hint: 'run `petal verify`: `petal verify --repair` puts a damaged block file back', details: { height: ref.height, hash: ref.hash }
    })
  } finally {
    db.close()
  }
}

function rowsOf (db: SqliteDb, o: BlockRowsRequest): BlockRowsPage | undefined {
  const tables = db.prepare<[], { name: string, wr: number }>("SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").all()
  const t = tables.find(x => x.name === o.table) ?? onlyOne(tables.filter(x => x.name.toLowerCase() === o.table.toLowerCase()))
  if (t === undefined || t.name.startsWith('_')) return undefined
  const q = `"${t.name.replaceAll('"', '""')}"`
  const columns = db.prepare<[string], string>('SELECT name FROM pragma_table_info(?)').pluck().all(t.name)
  const taken = new Set(columns.map(c => c.toLowerCase()))
  const alias = t.wr === 1 ? undefined : ROWID_NAMES.find(n => !taken.has(n))
  const byRowid = alias !== undefined && o.offset === undefined
  const stmt = byRowid
    ? db.prepare<unknown[], SqlValue[]>(`SELECT ${alias}, * FROM ${q} WHERE ${alias} > ? ORDER BY ${alias} LIMIT ?`)
    : db.prepare<unknown[], SqlValue[]>(`SELECT ${alias === undefined ? '' : `${alias}, `}* FROM ${q} ${alias === undefined ? positionOrder(db, t) : `ORDER BY ${alias} `}LIMIT ? OFFSET ?`)
  stmt.safeIntegers(true).raw(true)
  const args = byRowid ? [o.afterRowid ?? -(2n ** 63n), o.limit + 1] : [o.limit + 1, o.offset ?? 0]
  const rows: SqlValue[][] = []
  let bytes = 0
  let more = false
  for (const r of stmt.iterate(...args)) {
    if (rows.length === o.limit || (rows.length > 0 && bytes >= o.maxBytes)) { more = true; break }
    rows.push(r)
    for (const v of r) bytes += sizeOf(v)
  }
  const page: BlockRowsPage = { table: t.name, paging: alias === undefined ? 'position' : 'rowid', columns: alias === undefined ? columns : [alias, ...columns], rows, encrypted: encryptedOf(db, t.name) }
  if (more) {
    const last = rows.at(-1)?.[0]
    if (byRowid && typeof last === 'bigint') page.nextAfterRowid = last
    else page.nextOffset = (o.offset ?? 0) + rows.length
  }
  return page
}

/**
 * The columns of `table` this block's own `_recipients` rows name, and their recipients (the block
 * was checked when it was stored: its rows agree on the columns). A reader of the rows page saw a
 * BLOB in a TEXT column with nothing to say why (user51).
 */
function encryptedOf (db: SqliteDb, table: string): BlockRowsPage['encrypted'] {
  const none = { columns: [], recipients: [] }
  if (db.prepare("SELECT 1 FROM pragma_table_list WHERE schema = 'main' AND name = '_recipients'").get() === undefined) return none
  const rows = db.prepare<[], { recipient: string, columns: string }>("SELECT recipient, columns FROM _recipients WHERE block = '' ORDER BY recipient").all()
  const columns = new Set<string>()
  for (const r of rows) {
    let pairs: unknown
    try { pairs = JSON.parse(r.columns) } catch { continue }
    if (!Array.isArray(pairs)) continue
    for (const c of pairs) if (Array.isArray(c) && c[0] === table && typeof c[1] === 'string') columns.add(c[1])
  }
  return columns.size === 0 ? none : { columns: [...columns], recipients: rows.map(r => r.recipient) }
}

function onlyOne<T> (xs: T[]): T | undefined { return xs.length === 1 ? xs[0] : undefined }

function sizeOf (v: SqlValue): number {
  if (typeof v === 'string') return v.length + 2
  if (v instanceof Uint8Array) return Math.ceil(v.byteLength / 3) * 4 + 14
  return 8
}

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`

/**
 * FROM-clause tail giving a table without a usable rowid name its canonical order: a WITHOUT ROWID
 * table's primary-key order, read from its own b-tree (a secondary index covering the columns
 * would otherwise be scanned in its own order); else the table b-tree's rowid order.
 */
function positionOrder (db: SqliteDb, t: { name: string, wr: number }): string {
  if (t.wr !== 1) return 'NOT INDEXED '
  const index = db.prepare<[string], string>("SELECT name FROM pragma_index_list(?, 'main') WHERE origin = 'pk'").pluck().get(t.name)
  const key = db.prepare<[string], string>("SELECT name FROM pragma_table_info(?, 'main') WHERE pk > 0 ORDER BY pk").pluck().all(t.name)
  if (index === undefined || key.length === 0) return ''
  return `INDEXED BY ${quote(index)} ORDER BY ${key.map(quote).join(', ')} `
}
