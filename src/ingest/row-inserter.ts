import type { SqliteDb, SqliteStatement } from '../storage/index.js'

/**
 * Rows per multi-row INSERT, largest first (one parameter each, far below SQLite's 32766). Steps
 * of 4 keep the statements per append few (100 rows: 4 instead of 10 with steps of 16).
 */
const INSERT_CHUNKS = [256, 64, 16, 4, 1]
const CHUNK_NAMES = Array.from({ length: 256 }, (_, i) => `d${i}`)

/**
 * Inserts encoded rows into pending.db's `rows` table with prepared multi-row INSERTs. Rows go up
 * to 256 to a statement, and each row binds one parameter, its data (the table and time are bound
 * once, the size is SQLite's length()): one call per row, or four parameters per row, cost as much
 * as the rest of an append.
 */
export class RowInserter {
  /** Multi-row INSERTs into rows, by their number of rows. */
  private readonly statements = new Map<number, SqliteStatement>()

  constructor (private readonly db: SqliteDb) {}

  /**
   * Insert `data` (inside a write transaction); returns the id of the first row. Rowids of one
   * transaction's inserts are consecutive (max + 1 each; the transaction is the only writer),
   * also within one multi-row INSERT.
   */
  insert (table: string, data: readonly Buffer[], at: number): number {
    const args: Record<string, unknown> = { t: table, at }
    let first = 0
    let i = 0
    for (const size of INSERT_CHUNKS) {
      for (; i + size <= data.length; i += size) {
        for (let j = 0; j < size; j++) args[CHUNK_NAMES[j] as string] = data[i + j]
        const last = Number(this.statement(size).run(args).lastInsertRowid)
        if (i === 0) first = last - size + 1
      }
    }
    return first
  }

  private statement (rows: number): SqliteStatement {
    let s = this.statements.get(rows)
    if (s === undefined) {
      s = this.db.prepare(`INSERT INTO rows (tbl, data, bytes, at) VALUES ${CHUNK_NAMES.slice(0, rows).map(d => `(@t, @${d}, length(@${d}), @at)`).join(', ')}`)
      this.statements.set(rows, s)
    }
    return s
  }
}
