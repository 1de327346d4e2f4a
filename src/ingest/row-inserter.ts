import type { SqliteDb, SqliteStatement } from '../storage/index.js'
import { PackedRows } from './record-pack.js'

/**
 * Inserts an append's encoded rows into pending.db's `rows` table as ONE record (record-pack.ts):
 * one B-tree insert and its WAL frames, whatever the number of rows, where layout 2 inserted a
 * record per row (docs/performance/ingest.md, "Session 36: ingest"). Every parameter is anonymous:
 * better-sqlite3 looks every named parameter up in a bound object, which made a single row's
 * insert about 1.7× the time of a plain one. A lone row, the usual HTTP append, is a plain
 * `INSERT … VALUES (?, ?, ?, ?)` whose rowid (max + 1) is its row number; a record of n rows takes
 * the id max + n, the number of its last row.
 */
export class RowInserter {
  /** The one-row INSERT. */
  private one: SqliteStatement | undefined
  /** The record INSERT of several rows. */
  private many: SqliteStatement | undefined

  constructor (private readonly db: SqliteDb) {}

  /**
   * Insert `data` (inside a write transaction); returns the number of the first row. The rows'
   * numbers are consecutive, in `data`'s order.
   */
  insert (table: string, data: readonly Buffer[], at: number): number {
    return this.insertRecord(table, PackedRows.of(data), at)
  }

  /** insert() of rows already packed as one record's data (the JSON lane writes them so). */
  insertRecord (table: string, rows: PackedRows, at: number): number {
    const d = rows.data
    if (rows.n === 1) return Number(this.single().run(table, d, d.length, at).lastInsertRowid)
    const n = rows.n
    // Anonymous parameters are numbered in the text's order: n, table, data, bytes, time, n.
    this.many ??= this.db.prepare('INSERT INTO rows (id, tbl, data, bytes, at, n) VALUES ((SELECT coalesce(max(id), 0) FROM rows) + ?, ?, ?, ?, ?, ?)')
    const last = Number(this.many.run(n, table, d, rows.bytes, at, n).lastInsertRowid)
    return last - n + 1
  }

  private single (): SqliteStatement {
    return (this.one ??= this.db.prepare('INSERT INTO rows (tbl, data, bytes, at) VALUES (?, ?, ?, ?)'))
  }
}
