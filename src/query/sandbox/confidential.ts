import { cellAadPrefix, openCellAt } from '../../block/index.js'
import { CryptoError, importPrivateKey, unwrapDataKey, type SigningKey } from '../../crypto/index.js'
import type { SqliteDb } from '../../storage/index.js'
import { parseJson } from '../../util/index.js'
import { parseColumns } from '../mirror/columns.js'
import { rowOrder } from '../mirror/layout.js'
import { asciiLower, quoteIdent } from '../names.js'
import type { HistoryViews } from './history.js'

/**
 * Decryption inside the sandbox (docs/confidential.md, "Reading"). The data keys this node can
 * unwrap stay in this process's memory; a SQL function opens each sealed value as the statement
 * reads it, and a TEMP view per table (the temp schema is searched before main, and lives in
 * memory: temp_store = MEMORY) puts the plaintext where the table's name is. Nothing is written
 * to query.db or to any other file: sorting and grouping spill to memory, never to a temp file.
 */

/** Private encryption keys (PKCS#8 DER) the parent loaded from its keystore. */
export interface DecryptRequest { keys: Uint8Array[] }

/** What the result can say about one encrypted column. */
export interface ConfidentialNote {
  table: string
  column: string
  /** blocks in which the column is encrypted */
  blocks: number
  /** of those, the blocks this node has no key for: their values stay ciphertext */
  locked: number
  /** decryption was turned off (--no-decrypt) */
  off?: boolean
}

export const DECRYPT_FUNCTION = 'petal_decrypt'

interface Cell { table: string, column: string, prefix?: Buffer }

/**
 * Read `_recipients`, unwrap the data keys `request` opens, register petal_decrypt and create the
 * TEMP views. `request` undefined: decryption off (the function passes values through). Returns
 * a note per encrypted column. On an adopted chain, `history` puts the decrypted view of a table
 * under the view that unions it with the Daisy history (both cannot own the table's name).
 */
export function setupConfidential (db: SqliteDb, request: DecryptRequest | undefined, history?: HistoryViews): ConfidentialNote[] {
  // A mirror of an older layout, read where it cannot be rebuilt (a read-only directory), has no _recipients.
  if (db.prepare("SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND name = '_recipients'").get() === undefined) return []
  const rows = db.prepare<unknown[], { h: number, block: string, recipient: string, wrapped: Uint8Array, columns: string }>('SELECT _height AS h, block, recipient, wrapped, columns FROM main._recipients').all()
  const chainId = db.prepare<unknown[], string>("SELECT value FROM main._mirror WHERE key = 'chain_id'").pluck().get() ?? ''
  // Which cells are sealed in which block, with the block's own spelling of the names (the AAD uses it).
  const sealed = new Map<string, Cell>() // `${height}\0${table key}\0${column key}` → names in the block
  const columnsOf = new Map<string, Set<number>>() // `${table key}\0${column key}` → heights
  for (const r of rows) {
    if (r.block !== '') continue
    const cols = parseJson(r.columns)
    if (!Array.isArray(cols)) continue
    for (const c of cols) {
      if (!Array.isArray(c) || typeof c[0] !== 'string' || typeof c[1] !== 'string') continue
      const k = `${asciiLower(c[0])}\u0000${asciiLower(c[1])}`
      sealed.set(`${r.h}\u0000${k}`, { table: c[0], column: c[1] })
      let hs = columnsOf.get(k)
      if (hs === undefined) { hs = new Set(); columnsOf.set(k, hs) }
      hs.add(r.h)
    }
  }
  const keys = new Map<number, Uint8Array>()
  const mine: SigningKey[] = (request?.keys ?? []).map(k => importPrivateKey(k))
  if (mine.length > 0) {
    const heightOf = db.prepare<unknown[], number>('SELECT height FROM main._blocks WHERE hash = ?').pluck()
    for (const r of rows) {
      const k = mine.find(x => x.id === r.recipient)
      if (k === undefined) continue
      // A re-wrap names an earlier block by hash; one of another branch (not in _blocks) is ignored.
      const h = r.block === '' ? r.h : heightOf.get(r.block)
      if (h === undefined || keys.has(h)) continue
      keys.set(h, unwrapDataKey(r.wrapped, k, chainId))
    }
  }
  const notes: ConfidentialNote[] = []
  const tables = new Map<string, { name: string, columns: Set<string> }>()
  for (const [k, heights] of columnsOf) {
    const [tk = '', ck = ''] = k.split('\u0000')
    const t = db.prepare<unknown[], { name: string, columns: string }>('SELECT name, columns FROM main._mirror_tables WHERE key = ? AND wide = 0').get(tk)
    const col = t === undefined ? undefined : parseColumns(t.columns).find(c => asciiLower(c.name) === ck)
    if (t === undefined || col === undefined) continue
    const locked = [...heights].filter(h => !keys.has(h)).length
    notes.push({ table: t.name, column: col.name, blocks: heights.size, locked, ...(request === undefined ? { off: true } : {}) })
    let e = tables.get(tk)
    if (e === undefined) { e = { name: t.name, columns: new Set() }; tables.set(tk, e) }
    e.columns.add(ck)
  }
  // Position of a row in its block's table = mirror rowid − the first rowid of that block (the
  // mirror copies each block's rows in canonical order, one block after the other).
  const firstRowid = new Map<string, number>()
  const firstOf = (tk: string, name: string, order: string, h: number): number | undefined => {
    const k = `${tk}\u0000${h}`
    let v = firstRowid.get(k)
    if (v === undefined) {
      v = db.prepare<unknown[], number>(`SELECT min(${order}) FROM main.${quoteIdent(name)} WHERE "_height" = ?`).pluck().get(h) ?? undefined
      if (v !== undefined) firstRowid.set(k, v)
    }
    return v
  }
  // Filled before the statement runs: the function cannot query the connection while it steps.
  const orders = new Map<string, string>()
  for (const [tk, t] of tables) {
    const info = db.prepare<unknown[], string>('SELECT columns FROM main._mirror_tables WHERE key = ?').pluck().get(tk) ?? '[]'
    const order = rowOrder(parseColumns(info))
    if (order === '"_height"') continue // user columns shadow every rowid alias: positions unknown
    orders.set(tk, order)
    for (const k of columnsOf.keys()) {
      if (!k.startsWith(tk + '\u0000')) continue
      for (const h of columnsOf.get(k) ?? []) if (keys.has(h)) firstOf(tk, t.name, order, h)
    }
  }
  db.function(DECRYPT_FUNCTION, { deterministic: true, safeIntegers: true }, (value: unknown, height: unknown, rowid: unknown, table: unknown, column: unknown): unknown => {
    const v = value
    if (!(v instanceof Uint8Array)) return v
    const h = Number(height)
    const key = keys.get(h)
    if (key === undefined) return v
    const cell = sealed.get(`${h}\u0000${String(table)}\u0000${String(column)}`)
    const first = firstRowid.get(`${String(table)}\u0000${h}`)
    if (cell === undefined || first === undefined) return v
    const row = Number(rowid) - first
    cell.prefix ??= cellAadPrefix(chainId, cell.table, cell.column)
    const plain = openCellAt(key, cell.prefix, row, v)
    if (plain === undefined) {
      throw new CryptoError('DECRYPT_FAILED', `the encrypted value of ${cell.table}.${cell.column} in row ${row} of block ${h} does not authenticate: it was moved from another cell or altered before the block was sealed`, {
        hint: 'the block\'s signatory sealed a bad value; `--no-decrypt` shows the ciphertext',
        details: { height: h, table: cell.table, column: cell.column, row }
      })
    }
    return plain
  })
  if (request !== undefined && keys.size > 0) {
    db.pragma('query_only = OFF')
    try {
      for (const [tk, t] of tables) {
        const order = orders.get(tk)
        if (order === undefined) continue
        const info = db.prepare<unknown[], string>('SELECT columns FROM main._mirror_tables WHERE key = ?').pluck().get(tk) ?? '[]'
        const select = ['"_height"', ...parseColumns(info).map(c => {
          const ck = asciiLower(c.name)
          return t.columns.has(ck) ? `${decryptCall(c.name, tk, ck, order)} AS ${quoteIdent(c.name)}` : quoteIdent(c.name)
        })]
        const decrypted = `SELECT ${select.join(', ')} FROM main.${quoteIdent(t.name)}`
        const union = history?.get(tk)
        if (union !== undefined) db.exec(`DROP VIEW temp.${quoteIdent(t.name)}`)
        db.exec(`CREATE TEMP VIEW ${quoteIdent(t.name)} AS ${union === undefined ? decrypted : union(`(${decrypted})`)}`)
      }
    } finally {
      db.pragma('query_only = ON')
    }
  }
  return notes
}

/** The SQL that reads column `name` of a mirror table decrypted. */
export function decryptCall (name: string, tableKey: string, columnKey: string, order: string): string {
  return `${DECRYPT_FUNCTION}(${quoteIdent(name)}, "_height", ${order}, ${sqlString(tableKey)}, ${sqlString(columnKey)})`
}

function sqlString (s: string): string {
  return `'${s.replaceAll("'", "''")}'`
}
