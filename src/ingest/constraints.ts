import { quoteIdent } from '../block/index.js'
import type { SqliteDb, SqliteStatement } from '../storage/index.js'
import { rowError } from './errors.js'
import { quote, said } from '../util/index.js'
import { scratchDb, type TableSchema } from './schema.js'
import type { IngestRow, IngestValue } from './values.js'

/**
 * The constraints of a declared table (NOT NULL, CHECK, STRICT types, DEFAULT expressions) are
 * checked when rows are appended, by SQLite itself: the rows are inserted into an empty copy of
 * the table in memory, then rolled back. What passes here also passes when the block is built.
 * UNIQUE and PRIMARY KEY hold within a block: a repeated key starts a new block instead of
 * failing (the sealer does the same), so they are not refusals here.
 */
export class ConstraintChecker {
  private readonly db: SqliteDb
  private readonly inserts = new Map<string, SqliteStatement>()

  constructor (readonly table: TableSchema) {
    this.db = scratchDb()
    this.db.exec(table.sql)
  }

  check (rows: readonly IngestRow[]): void {
    const t = this.table
    this.db.exec('BEGIN')
    try {
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i] as IngestRow
        const cols = Object.keys(r)
        const key = cols.join('\u0000')
        let st = this.inserts.get(key)
        if (st === undefined) {
          st = this.db.prepare(cols.length === 0
            ? `INSERT INTO ${quoteIdent(t.name)} DEFAULT VALUES`
            : `INSERT INTO ${quoteIdent(t.name)} (${cols.map(quoteIdent).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`)
          this.inserts.set(key, st)
        }
        const values = cols.map(c => r[c] as IngestValue)
        try {
          st.run(...values)
        } catch (err) {
          const code = (err as { code?: string }).code ?? ''
          if (code !== 'SQLITE_CONSTRAINT_UNIQUE' && code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw refusal(t, i, code, err as Error)
          this.db.exec(`DELETE FROM ${quoteIdent(t.name)}`)
          try {
            st.run(...values)
          } catch (again) {
            throw refusal(t, i, (again as { code?: string }).code ?? '', again as Error)
          }
        }
      }
    } finally {
      this.db.exec('ROLLBACK')
    }
  }

  close (): void { this.db.close() }
}

function refusal (t: TableSchema, row: number, code: string, err: Error): Error {
  const field = /^NOT NULL constraint failed: [^.]+\.(.+)$/.exec(err.message)?.[1]
  const typeError = code === 'SQLITE_CONSTRAINT_DATATYPE' || code === 'SQLITE_MISMATCH'
  return rowError(typeError ? 'INGEST_TYPE_MISMATCH' : 'INGEST_CONSTRAINT', row, field, said`table ${quote(t.name)} refuses the row: ${quote(err.message)}`, {
    hint: t.chain !== undefined ? said`the chain defines the table so (block ${t.chain.height}): ${quote(t.sql)}` : said`the table was declared as: ${quote(t.declared ?? t.sql)}`,
    details: { table: t.name, sqlite: code }
  })
}
