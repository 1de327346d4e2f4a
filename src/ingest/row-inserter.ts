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
 * as the rest of an append. The data are bound as an array of anonymous parameters (a VALUES list
 * selected from), not by name: better-sqlite3 looks every named parameter up in the bound object,
 * which made the insert 15–30 % slower.
 */
export class RowInserter {
  /** Multi-row INSERTs into rows, by their number of rows. */
  private readonly statements = new Map<number, SqliteStatement>()

  constructor (private readonly db: SqliteDb) {}

  /**
   * Insert `data` (inside a write transaction); returns the id of the first row. Rowids of one
   * transaction's inserts are consecutive (max + 1 each, in the VALUES list's order; the
   * transaction is the only writer), also within one multi-row INSERT.
   */
  insert (table: string, data: readonly Buffer[], at: number): number {
    const named = { t: table, at }
    let first = 0
    let i = 0
    for (const size of INSERT_CHUNKS) {
      for (; i + size <= data.length; i += size) {
        // A lone statement binds the rows as they are (one row: the usual HTTP append).
        const rows = i === 0 && size === data.length ? data : data.slice(i, i + size)
        const last = Number(this.statement(size).run(rows, named).lastInsertRowid)
        if (i === 0) first = last - size + 1
      }
    }
    return first
  }

  private statement (rows: number): SqliteStatement {
    let s = this.statements.get(rows)
    if (s === undefined) {
      // SQLite yields a VALUES list's rows in list order (not documented, but how it is built):
      // receipts rely on consecutive ids in that order, which test/unit/ingest/row-inserter.test.ts checks.
      s = this.db.prepare(`INSERT INTO rows (tbl, data, bytes, at) SELECT @t, column1, length(column1), @at FROM (VALUES ${Array.from({ length: rows }, () => '(?)').join(', ')})`)
      this.statements.set(rows, s)
    }
    return s
  }
}
