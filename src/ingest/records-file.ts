import { quoteIdent } from '../block/index.js'
import { openSqlite, type SqliteStatement } from '../storage/index.js'
import { rowError } from './errors.js'
import { extendTable } from './schema.js'
import { typeRows } from './typing.js'
import { isTextRows, type IngestRow, type IngestValue } from './values.js'

/**
 * Write records (from parseRecords) into a new SQLite file as one table, typed as the ingest
 * service would type a new table: what `signimportblock FILE.csv --table NAME` seals.
 */
export function buildRecordsFile (path: string, table: string, rows: readonly IngestRow[]): { rows: number, sql: string } {
  const typed = typeRows(table, undefined, rows, isTextRows(rows))
  if (typed.added.length === 0) throw rowError('INGEST_MALFORMED', 0, undefined, `no field has a value, so there is nothing to create table ${table} from`, { hint: 'give at least one non-null field' })
  const t = extendTable(table, undefined, typed.added)
  const db = openSqlite(path)
  try {
    db.pragma('journal_mode = MEMORY')
    db.pragma('synchronous = OFF')
    db.exec(t.sql)
    const inserts = new Map<string, SqliteStatement>()
    db.transaction(() => {
      for (const r of typed.rows) {
        const cols = Object.keys(r)
        const key = cols.join('\u0000')
        let st = inserts.get(key)
        if (st === undefined) {
          st = db.prepare(cols.length === 0
            ? `INSERT INTO ${quoteIdent(t.name)} DEFAULT VALUES`
            : `INSERT INTO ${quoteIdent(t.name)} (${cols.map(quoteIdent).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`)
          inserts.set(key, st)
        }
        st.run(...cols.map(c => r[c] as IngestValue))
      }
    })()
    db.pragma('journal_mode = DELETE')
  } finally {
    db.close()
  }
  return { rows: typed.rows.length, sql: t.sql }
}
