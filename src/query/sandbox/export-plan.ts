import type { SqliteDb } from '../../storage/index.js'
import { QueryError } from '../errors.js'
import { parseColumns, type ColumnInfo } from '../mirror/columns.js'
import { MAX_MIRROR_COLUMNS, rowOrder } from '../mirror/layout.js'
import { asciiLower, quoteIdent } from '../names.js'
import { quote, quoteEach, said, shellWord } from '../../util/index.js'
import { decryptCall, type ConfidentialNote } from './confidential.js'
import type { ExportPlan, ExportRequest } from './protocol.js'

/**
 * The statement that exports a table: its columns as the mirror has them (every column any block
 * gave it, in order of first appearance, `_height` left out), rows in chain order — by height,
 * then in each block's canonical order — so that a table imported from one CSV exports as that
 * CSV. Encrypted columns go through petal_decrypt when decryption is on.
 */
export function planExport (db: SqliteDb, req: ExportRequest, decrypting: readonly ConfidentialNote[]): { sql: string, plan: ExportPlan } {
  const key = asciiLower(req.table)
  const t = db.prepare<unknown[], { name: string, columns: string, wide: number }>('SELECT name, columns, wide FROM main._mirror_tables WHERE key = ?').get(key)
  if (t === undefined) {
    const names = db.prepare<unknown[], string>('SELECT name FROM main._mirror_tables ORDER BY key LIMIT 20').pluck().all()
    throw new QueryError('QUERY_UNKNOWN_TABLE', said`no table ${quote(req.table)} in the chain`, {
      hint: names.length === 0 ? 'the chain has no user tables yet' : said`tables in the chain: ${quoteEach(names)}`,
      details: { sqliteMessage: `no such table: ${req.table}` },
      quoted: { details: ['sqliteMessage'] }
    })
  }
  const columns = parseColumns(t.columns)
  if (t.wide === 1) {
    throw new QueryError('QUERY_TABLE_TOO_WIDE', said`table ${quote(t.name)} has ${columns.length} distinct columns across the chain's blocks, more than one SQLite table can hold (${MAX_MIRROR_COLUMNS})`, {
      // A command in backticks (the CLI puts the user's --dir into it), runnable as printed; NDJSON,
      // since such a table's blocks differ in their columns, which one CSV header cannot give (review34).
      hint: said`export it block by block: \`petal query --per-block --format ndjson ${quote(shellWord(`SELECT * FROM ${quoteIdent(t.name)}`))}\``,
      details: { table: t.name, columns: columns.length },
      quoted: { details: ['table'] }
    })
  }
  const order = rowOrder(columns)
  const from = req.from ?? 0
  const to = req.to ?? Number.MAX_SAFE_INTEGER
  const sealed = new Set(decrypting.filter(n => asciiLower(n.table) === key).map(n => asciiLower(n.column)))
  const select = columns.map(c => (sealed.has(asciiLower(c.name)) && order !== '"_height"' ? `${decryptCall(c.name, key, asciiLower(c.name), order)} AS ${quoteIdent(c.name)}` : quoteIdent(c.name)))
  const sql = `SELECT ${select.length === 0 ? 'NULL' : select.join(', ')} FROM main.${quoteIdent(t.name)} WHERE "_height" BETWEEN ${from} AND ${to} ORDER BY "_height", ${order}`
  const ddls = db.prepare<unknown[], string>('SELECT DISTINCT sql FROM main._tables WHERE lower(name) = ? AND _height BETWEEN ? AND ?').pluck().all(key, from, to)
  const rows = db.prepare<unknown[], number>('SELECT coalesce(sum(rows), 0) FROM main._tables WHERE lower(name) = ? AND _height BETWEEN ? AND ?').pluck().get(key, from, to) ?? 0
  // One CREATE TABLE across the range: the blocks' own. Several: the union of their columns.
  const only = ddls.length === 1 ? ddls[0] : undefined
  return { sql, plan: { table: t.name, ddl: only ?? unionDdl(t.name, columns), rows } }
}

function unionDdl (name: string, columns: readonly ColumnInfo[]): string {
  return `CREATE TABLE ${quoteIdent(name)} (${columns.map(c => `${quoteIdent(c.name)} ${c.affinity === 'NUMERIC' ? 'NUMERIC' : c.affinity}${c.coll === 'BINARY' ? '' : ` COLLATE ${c.coll}`}`).join(', ')})`
}
