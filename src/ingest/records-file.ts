import { quoteIdent } from '../block/index.js'
import { openSqlite, type SqliteStatement } from '../storage/index.js'
import { rowError } from './errors.js'
import { ConstraintChecker } from './constraints.js'
import { chainTable, extendTable } from './schema.js'
import { typeRows } from './typing.js'
import { isTextRows, type IngestRow, type IngestValue } from './values.js'

/**
 * Write records (from parseRecords) into a new SQLite file as one table, typed as the ingest
 * service would type them: what `signimportblock FILE.csv --table NAME` seals. A table the chain
 * has (`onChain`: IndexDb.latestTable's answer) keeps the chain's definition, as an append's does
 * (docs/ingest.md, "Tables and types"); another is created from the rows' types.
 */
export function buildRecordsFile (path: string, table: string, rows: readonly IngestRow[], onChain?: { name: string, sql: string, height: number }): { rows: number, sql: string } {
  const base = onChain === undefined ? undefined : chainTable(onChain)
  const typed = typeRows(base?.name ?? table, base, rows, isTextRows(rows))
  if (base === undefined && typed.added.length === 0) throw rowError('INGEST_MALFORMED', 0, undefined, `no field has a value, so there is nothing to create table ${table} from`, { hint: 'give at least one non-null field' })
  const t = base !== undefined && typed.added.length === 0 ? base : { ...extendTable(table, base, typed.added), chain: base?.chain }
  // The chain's declared constraints, refused per row with a code, not as SQLite's raw error at the insert.
  if (t.declared !== undefined) {
    const checker = new ConstraintChecker(t)
    try { checker.check(typed.rows) } finally { checker.close() }
  }
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
