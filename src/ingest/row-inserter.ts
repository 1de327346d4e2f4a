import type { SqliteDb, SqliteStatement } from '../storage/index.js'

/**
 * Rows per multi-row INSERT, largest first (one parameter each, far below SQLite's 32766). Steps
 * of 4 keep the statements per append few (100 rows: 4 instead of 10 with steps of 16).
 */
const INSERT_CHUNKS = [256, 64, 16, 4, 1]

/**
 * Inserts encoded rows into pending.db's `rows` table with prepared multi-row INSERTs. Rows go up
 * to 256 to a statement, and each row binds one parameter, its data (the table and time are bound
 * once, the size is SQLite's length()): one call per row, or four parameters per row, cost as much
 * as the rest of an append. Every parameter is anonymous: the table and time first, then the data
 * as an array (a VALUES list selected from). better-sqlite3 looks every named parameter up in a
 * bound object, which made the insert 15–30 % slower (the data) and a single row's insert about
 * 1.7× the time of a plain one (the table and time, by name). A lone row, the usual HTTP append,
 * is a plain `INSERT … VALUES (?, ?, ?, ?)` with its size bound as the Buffer's length, which is
 * what `length()` gives for a BLOB.
 */
export class RowInserter {
  /** Multi-row INSERTs into rows, by their number of rows. */
  private readonly statements = new Map<number, SqliteStatement>()
  /** The one-row INSERT. */
  private one: SqliteStatement | undefined

  constructor (private readonly db: SqliteDb) {}

  /**
   * Insert `data` (inside a write transaction); returns the id of the first row. Rowids of one
   * transaction's inserts are consecutive (max + 1 each, in the VALUES list's order; the
   * transaction is the only writer), also within one multi-row INSERT.
   */
  insert (table: string, data: readonly Buffer[], at: number): number {
    if (data.length === 1) {
      const d = data[0] as Buffer
      return Number(this.single().run(table, d, d.length, at).lastInsertRowid)
    }
    let first = 0
    let i = 0
    for (const size of INSERT_CHUNKS) {
      for (; i + size <= data.length; i += size) {
        // A lone statement binds the rows as they are.
        const rows = i === 0 && size === data.length ? data : data.slice(i, i + size)
        const last = Number(this.statement(size).run(table, at, rows).lastInsertRowid)
        if (i === 0) first = last - size + 1
      }
    }
    return first
  }

  private single (): SqliteStatement {
    return (this.one ??= this.db.prepare('INSERT INTO rows (tbl, data, bytes, at) VALUES (?, ?, ?, ?)'))
  }

  private statement (rows: number): SqliteStatement {
    let s = this.statements.get(rows)
    if (s === undefined) {
      // SQLite yields a VALUES list's rows in list order (not documented, but how it is built):
      // receipts rely on consecutive ids in that order, which test/unit/ingest/row-inserter.test.ts
      // checks. Anonymous parameters are numbered in the text's order: table, time, then the rows.
      s = this.db.prepare(`INSERT INTO rows (tbl, data, bytes, at) SELECT ?, column1, length(column1), ? FROM (VALUES ${Array.from({ length: rows }, () => '(?)').join(', ')})`)
      this.statements.set(rows, s)
    }
    return s
  }
}
