import { DataDir, type SqliteDb } from '../../storage/index.js'
import { QueryError, statementError } from '../errors.js'
import type { Emitter } from './emitter.js'
import { checkStatementText } from './guard.js'
import { compile, openForQuery } from './connection.js'
import { historyMirrorOf, unionHistory, type HistoryViews } from './history.js'
import { asciiLower, quoteIdent } from '../names.js'
import { quote, said, shellWord } from '../../util/index.js'
import { MAX_MIRROR_COLUMNS, readSkippedBlocks } from '../mirror/layout.js'
import { parseColumns } from '../mirror/columns.js'
import { CryptoError } from '../../crypto/index.js'
import { setupConfidential, type DecryptRequest } from './confidential.js'
import { planExport } from './export-plan.js'
import type { ExportRequest } from './protocol.js'

/**
 * Default mode: the statement runs once against the query mirror, inside one read transaction so
 * that the tip it reports and the rows it returns come from the same snapshot.
 */
export async function runOnMirror (dataDir: string, sql: string, out: Emitter, o: { decrypt?: DecryptRequest, export?: ExportRequest } = {}): Promise<void> {
  if (o.export === undefined) checkStatementText(sql)
  const history = historyMirrorOf(dataDir)
  let historyViews: HistoryViews | undefined
  const db = openForQuery(new DataDir(dataDir).queryDb, 'the query mirror', history === undefined ? undefined : d => { historyViews = unionHistory(d, history) })
  try {
    db.exec('BEGIN')
    const tip = db.prepare<unknown[], { height: number, hash: string }>('SELECT height, hash FROM _blocks ORDER BY height DESC LIMIT 1').get()
    const confidential = setupConfidential(db, o.decrypt, historyViews)
    let stmt
    try {
      if (o.export !== undefined) {
        const plan = planExport(db, o.export, o.decrypt === undefined ? [] : confidential)
        out.plan(plan.plan)
        sql = plan.sql
      }
      stmt = compile(db, sql, 'the query mirror')
    } catch (err) {
      throw QueryError.is(err) && err.code === 'QUERY_UNKNOWN_TABLE' ? explainMissingTable(db, err) : err
    }
    await out.setColumns(stmt.columns().map(c => c.name))
    try {
      for (const row of stmt.iterate()) await out.push(row)
    } catch (err) {
      if (err instanceof QueryError || err instanceof CryptoError) throw err
      throw statementError(err, 'the query mirror')
    }
    // In the statement's snapshot, so that the caller need not open the mirror again to say which
    // blocks the result lacks.
    const skipped = readSkippedBlocks(db)
    db.exec('COMMIT')
    // Only the columns of the tables the statement read.
    const read = new Set(readTables(stmt))
    const notes = confidential.filter(n => read.has(asciiLower(n.table)))
    await out.end({ tip, skipped, ...(notes.length > 0 ? { confidential: notes } : {}) })
  } finally {
    db.close()
  }
}

/**
 * A table the mirror does not have, though the chain may: the per-block tables `_meta` and `_keys`,
 * or a table left out because its columns across blocks exceed what one table can hold.
 */
function explainMissingTable (db: SqliteDb, err: QueryError<'QUERY_UNKNOWN_TABLE'>): QueryError {
  const m = /^no such table: (?:\w+\.)?(.+?)(?: \(in .*)?$/.exec(err.message)
  const name = asciiLower(m?.[1] ?? '')
  if (name === '_meta' || name === '_keys') {
    return new QueryError('QUERY_UNKNOWN_TABLE', err.message, {
      hint: `${name} is inside each block, not in the mirror: use --per-block (\`petal query --per-block "SELECT * FROM ${name}"\`); for the signatories at the tip, \`petal signers\``,
      details: err.details,
      quoted: err.quoted
    })
  }
  const wide = db.prepare<unknown[], { name: string, columns: string }>('SELECT name, columns FROM _mirror_tables WHERE key = ? AND wide = 1').get(name)
  if (wide === undefined) return err
  const n = parseColumns(wide.columns).length
  return new QueryError('QUERY_TABLE_TOO_WIDE', said`table ${quote(wide.name)} has ${n} distinct columns across the chain's blocks, more than one SQLite table can hold (${MAX_MIRROR_COLUMNS}), so the query mirror leaves it out`, {
    // The name quoted for SQL and the statement for the shell: `my wide` or `a$b` printed bare
    // ran another statement, or another command (review34).
    hint: said`query it block by block: \`petal query --per-block ${quote(shellWord(`SELECT … FROM ${quoteIdent(wide.name)}`))}\``,
    details: { table: wide.name, columns: n },
    quoted: { details: ['table'] }
  })
}

/** Lower-case names of the tables a compiled statement reads (from its bytecode). */
function readTables (stmt: { source: string }): string[] {
  // Cheap and sufficient for a note: the statement's words that name a mirror table.
  return stmt.source.split(/[^\p{L}\p{N}_$]+/u).map(asciiLower)
}
