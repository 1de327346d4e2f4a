import { type SqliteDb } from '../../storage/index.js'
import { affinityOf, type Affinity } from '../../block/index.js'
import { isRecord, parseJson } from '../../util/index.js'
import { QueryError } from '../errors.js'
import { asciiLower, quoteIdent } from '../names.js'

export { affinityOf, type Affinity }

/** SQLite's five column affinities (https://sqlite.org/datatype3.html §3.1). */
const AFFINITIES: readonly Affinity[] = ['INTEGER', 'TEXT', 'BLOB', 'REAL', 'NUMERIC']
/** The built-in collations; a block cannot use another one and stay readable. */
const COLLATIONS = ['BINARY', 'NOCASE', 'RTRIM'] as const
export type Collation = typeof COLLATIONS[number]

/** What the mirror keeps of a block column: its name, affinity and collation (never its DDL text). */
export interface ColumnInfo { name: string, affinity: Affinity, coll: Collation }

/** Columns as the mirror stores them (`_mirror_tables.columns`, `_mirror_ddl.columns`: JSON). */
export function parseColumns (json: string): ColumnInfo[] {
  const v = parseJson(json)
  const cols = Array.isArray(v) ? v.flatMap((c: unknown): ColumnInfo[] => {
    if (!isRecord(c) || typeof c.name !== 'string') return []
    const affinity = AFFINITIES.find(a => a === c.affinity)
    const coll = COLLATIONS.find(x => x === c.coll)
    return affinity === undefined || coll === undefined ? [] : [{ name: c.name, affinity, coll }]
  }) : []
  if (!Array.isArray(v) || cols.length !== v.length) {
    throw new QueryError('MIRROR_SCHEMA', 'query mirror: a column record is malformed', { hint: 'rebuild the mirror with `petal reindex --query`' })
  }
  return cols
}

/**
 * The collation of a column, found by how SQLite compares through it: in a compound SELECT the
 * leftmost column's collation applies to ORDER BY and DISTINCT, so a column that yields no rows
 * (WHERE 0) decides how three probe strings sort and compare. No DDL text is parsed or run.
 */
function collationOf (db: SqliteDb, schema: string, table: string, column: string): Collation {
  const src = `SELECT ${quoteIdent(column)} AS x FROM ${quoteIdent(schema)}.${quoteIdent(table)} WHERE 0`
  try {
    const r = db.prepare<[], { first: string, n: number }>(`SELECT (SELECT x FROM (${src} UNION ALL SELECT 'B' UNION ALL SELECT 'a') ORDER BY x LIMIT 1) AS first,
      (SELECT count(DISTINCT x) FROM (${src} UNION ALL SELECT 'a' UNION ALL SELECT 'a ' UNION ALL SELECT 'A')) AS n`).get()
    if (r?.first === 'a') return 'NOCASE'
    return r?.n === 2 ? 'RTRIM' : 'BINARY'
  } catch {
    // An unknown collation: every query on that column fails in the block itself.
    return 'BINARY'
  }
}

/** Columns of a table of an open block (schema `schema` of `db`), in declaration order. */
export function probeColumns (db: SqliteDb, schema: string, table: string): ColumnInfo[] {
  const strict = (db.prepare<unknown[], { strict: number }>('SELECT strict FROM pragma_table_list WHERE schema = ? AND name = ?').get(schema, table))?.strict === 1
  const cols = db.prepare<unknown[], { name: string, type: string, hidden: number }>('SELECT name, type, hidden FROM pragma_table_xinfo(?, ?) ORDER BY cid').all(table, schema)
  return cols.filter(c => c.hidden === 0).map(c => ({ name: c.name, affinity: affinityOf(c.type, strict), coll: collationOf(db, schema, table, c.name) }))
}

/**
 * The union rule: columns in order of first appearance (by height, then position); a name matches
 * case-insensitively (ASCII), keeping its first spelling; blocks that disagree on a column's
 * affinity make it untyped (BLOB affinity: values kept exactly as stored), on its collation BINARY.
 */
export function unionColumns (current: readonly ColumnInfo[] | undefined, next: readonly ColumnInfo[]): ColumnInfo[] {
  const out = (current ?? []).map(c => ({ ...c }))
  const byKey = new Map(out.map(c => [asciiLower(c.name), c]))
  for (const c of next) {
    const have = byKey.get(asciiLower(c.name))
    if (have === undefined) {
      const add = { ...c }
      out.push(add)
      byKey.set(asciiLower(c.name), add)
      continue
    }
    if (have.affinity !== c.affinity) have.affinity = 'BLOB'
    if (have.coll !== c.coll) have.coll = 'BINARY'
  }
  return out
}

export function sameColumns (a: readonly ColumnInfo[], b: readonly ColumnInfo[]): boolean {
  return a.length === b.length && a.every((c, i) => c.name === b[i]?.name && c.affinity === b[i]?.affinity && c.coll === b[i]?.coll)
}

/** Column definition in the mirror: canonical type of the affinity, collation if not BINARY. */
export function columnDef (c: ColumnInfo): string {
  const type = c.affinity === 'BLOB' ? '' : ` ${c.affinity}`
  const coll = c.coll === 'BINARY' ? '' : ` COLLATE ${c.coll}`
  return `${quoteIdent(c.name)}${type}${coll}`
}
