import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { DAISY_SOURCE_FILE, type SqliteDb } from '../../storage/index.js'
import { asciiLower, quoteIdent } from '../names.js'

/** Where an adopted chain keeps the query mirror of the Daisy history it continues (petal adopt-daisy). */
export function historyMirrorOf (dataDir: string): string | undefined {
  const state = join(dataDir, 'daisy-state')
  const path = join(state, 'query.db')
  return existsSync(join(state, DAISY_SOURCE_FILE)) && existsSync(path) ? path : undefined
}

const q = quoteIdent

/**
 * Per user table (by lower-case name) that the new chain has: the union view's body with the new
 * chain's side read from `source` instead of the mirror table, so decryption can put its own view
 * of that side under the union (docs/confidential.md "Reading").
 */
export type HistoryViews = Map<string, (source: string) => string>

/**
 * Make one statement see the Daisy history and the chain that continues it as one chain
 * (docs/daisy.md "Queries over the old and the new blocks"): the history's mirror is attached as
 * `daisy`, and a temporary view per table name (which SQLite resolves before `main`) unions both,
 * columns matched by name, NULL where one side lacks one. Daisy block h appears at height
 * h − (Daisy's tip height + 1): the Daisy tip is −1, the new genesis 0. Runs before the connection
 * is made query_only (a temporary view is a schema change).
 */
export function unionHistory (db: SqliteDb, historyPath: string): HistoryViews {
  db.prepare('ATTACH ? AS daisy').run(historyPath)
  const tip = db.prepare<[], number | null>('SELECT MAX(height) FROM daisy._blocks').pluck().get() ?? -1
  const shift = tip + 1
  const tablesOf = (schema: string): Map<string, string> => new Map(db.prepare<[], { name: string }>(`SELECT name FROM ${schema}._mirror_tables WHERE wide = 0`).all().map(r => [asciiLower(r.name), r.name]))
  const columnsOf = (schema: string, table: string): string[] => db.prepare<[string], string>(`SELECT name FROM pragma_table_info(?, '${schema}')`).pluck().all(table)
  const mine = tablesOf('main')
  const theirs = tablesOf('daisy')
  const tableViews: Array<{ name: string, main?: string, daisy?: string }> = [
    { name: '_blocks', main: '_blocks', daisy: '_blocks' },
    { name: '_tables', main: '_tables', daisy: '_tables' },
    ...[...new Set([...mine.keys(), ...theirs.keys()])].map(k => ({ name: mine.get(k) ?? theirs.get(k) ?? k, main: mine.get(k), daisy: theirs.get(k) }))
  ]
  const views: HistoryViews = new Map()
  for (const v of tableViews) {
    const a = v.main === undefined ? [] : columnsOf('main', v.main)
    const b = v.daisy === undefined ? [] : columnsOf('daisy', v.daisy)
    const cols = [...a, ...b.filter(c => !a.some(x => asciiLower(x) === asciiLower(c)))]
    const heightCol = v.name === '_blocks' ? 'height' : '_height'
    const pick = (have: string[], shifted: boolean): string => cols.map(c => {
      const found = have.find(x => asciiLower(x) === asciiLower(c))
      if (found === undefined) return `NULL AS ${q(c)}`
      return shifted && asciiLower(c) === heightCol ? `${q(found)} - ${shift} AS ${q(c)}` : `${q(found)} AS ${q(c)}`
    }).join(', ')
    const body = (source: string | undefined): string => [
      ...(v.daisy === undefined ? [] : [`SELECT ${pick(b, true)} FROM daisy.${q(v.daisy)}`]),
      ...(source === undefined ? [] : [`SELECT ${pick(a, false)} FROM ${source}`])
    ].join(' UNION ALL ')
    db.exec(`CREATE TEMP VIEW ${q(v.name)} AS ${body(v.main === undefined ? undefined : `main.${q(v.main)}`)}`)
    if (v.main !== undefined && !v.name.startsWith('_')) views.set(asciiLower(v.name), body)
  }
  return views
}
