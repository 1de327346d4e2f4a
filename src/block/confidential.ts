import { isKeyId, isWrappedKeyShape, MIN_SEALED_BYTES, newDataKey, openValue, parsePublicKey, sealValue, unwrapDataKey, wrapDataKey, type PublicKey, type SigningKey } from '../crypto/index.js'
import { errorMessage, isHash, parseJson } from '../util/index.js'
import { RECIPIENTS_DDL } from './constants.js'
import { BlockError } from './errors.js'
import { canonicalOrder } from './manifest.js'
import { quoteIdent } from './sqlite.js'
import { TAG_BLOB, TAG_INTEGER, TAG_NULL, TAG_REAL, TAG_TEXT, type SqlValue } from './row-codec.js'
import type { UserTable } from './schema.js'
import type { Db } from './sqlite.js'

/**
 * Confidential columns inside a block (docs/confidential.md): how a cell's value is encoded and
 * bound to its place before AES-256-GCM seals it, the reserved `_recipients` table that carries
 * the block's data key wrapped for each recipient, and the structural checks a validator can make
 * without any key.
 */

/** One encrypted column: `[table, column]` as the block's schema spells them. */
export type EncryptedColumn = readonly [table: string, column: string]

/** A `_recipients` row. `block` is '' for this block's own data key, or the hash of an earlier block whose key is re-wrapped here. */
export interface RecipientRow {
  block: string
  recipient: string
  pubkey: string
  wrapped: Uint8Array
  columns: EncryptedColumn[]
}

const CELL_LABEL = Buffer.from('petal/v2/cell\u0000', 'utf8')

function lengthPrefixed (s: string): Buffer {
  const b = Buffer.from(s, 'utf8')
  const n = Buffer.alloc(4)
  n.writeUInt32BE(b.length)
  return Buffer.concat([n, b])
}

/** The AAD of one column's cells up to the row number, computed once per column. */
export function cellAadPrefix (chainId: string, table: string, column: string): Buffer {
  return Buffer.concat([CELL_LABEL, lengthPrefixed(chainId), lengthPrefixed(table), lengthPrefixed(column), Buffer.alloc(8)])
}

/** `prefix` (from cellAadPrefix) completed with `row`, in place: valid until the next call with it. */
export function cellAadAt (prefix: Buffer, row: number): Buffer {
  prefix.writeBigUInt64BE(BigInt(row), prefix.length - 8)
  return prefix
}

/**
 * Additional data of a cell: the chain, the table, the column and the row's position in the
 * table's canonical order (its Merkle leaf index), so a sealed value opens only in its own cell.
 */
export function cellAad (chainId: string, table: string, column: string, row: number): Uint8Array {
  return new Uint8Array(cellAadAt(cellAadPrefix(chainId, table, column), row))
}

/** A value as the plaintext of a cell: the row codec's tag and payload (NULL is encrypted too). */
export function encodeCellValue (v: SqlValue): Uint8Array {
  if (v === null) return Uint8Array.of(TAG_NULL)
  if (typeof v === 'bigint' || typeof v === 'number') {
    const b = Buffer.allocUnsafe(9)
    b[0] = typeof v === 'bigint' ? TAG_INTEGER : TAG_REAL
    if (typeof v === 'bigint') b.writeBigInt64BE(v, 1)
    else b.writeDoubleBE(v, 1)
    return b
  }
  const payload = typeof v === 'string' ? Buffer.from(v, 'utf8') : v
  const b = Buffer.allocUnsafe(5 + payload.length)
  b[0] = typeof v === 'string' ? TAG_TEXT : TAG_BLOB
  b.writeUInt32BE(payload.length, 1)
  b.set(payload, 5)
  return b
}

export function decodeCellValue (b: Uint8Array): SqlValue | undefined {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  const tag = buf[0]
  if (tag === TAG_NULL && buf.length === 1) return null
  if (tag === TAG_INTEGER && buf.length === 9) return buf.readBigInt64BE(1)
  if (tag === TAG_REAL && buf.length === 9) return buf.readDoubleBE(1)
  if ((tag === TAG_TEXT || tag === TAG_BLOB) && buf.length >= 5 && buf.readUInt32BE(1) === buf.length - 5) {
    return tag === TAG_TEXT ? buf.toString('utf8', 5) : new Uint8Array(buf.subarray(5))
  }
  return undefined
}

export function sealCell (dataKey: Uint8Array, chainId: string, table: string, column: string, row: number, v: SqlValue, nonce?: Uint8Array): Uint8Array {
  return sealValue(dataKey, cellAad(chainId, table, column, row), encodeCellValue(v), nonce)
}

/** The value of a sealed cell, or undefined when it does not authenticate in this cell. */
export function openCell (dataKey: Uint8Array, chainId: string, table: string, column: string, row: number, sealed: Uint8Array): SqlValue | undefined {
  return openCellAt(dataKey, cellAadPrefix(chainId, table, column), row, sealed)
}

/** openCell with the column's AAD prefix computed once (cellAadPrefix): the per-value path. */
export function openCellAt (dataKey: Uint8Array, prefix: Buffer, row: number, sealed: Uint8Array): SqlValue | undefined {
  const plain = openValue(dataKey, cellAadAt(prefix, row), sealed)
  return plain === undefined ? undefined : decodeCellValue(plain)
}

const malformed = (why: string): BlockError => new BlockError('RECIPIENTS_MALFORMED', `_recipients: ${why}`, {
  hint: 'blocks with encrypted columns are written by `petal signimportblock --encrypt`; see docs/confidential.md'
})

function parseColumnsJson (text: unknown): EncryptedColumn[] {
  const v = typeof text === 'string' ? parseJson(text) : undefined
  if (!Array.isArray(v) || v.length === 0) throw malformed('columns must be a non-empty JSON array of [table, column] pairs')
  const out: EncryptedColumn[] = []
  for (const c of v) {
    if (!Array.isArray(c) || c.length !== 2 || typeof c[0] !== 'string' || typeof c[1] !== 'string') throw malformed('columns must be a non-empty JSON array of [table, column] pairs')
    out.push([c[0], c[1]])
  }
  return out
}

/** The rows of `_recipients`, each checked for shape (no key is needed for that). */
export function readRecipients (db: Db): RecipientRow[] {
  const rows = db.prepare<unknown[], unknown[]>('SELECT block, recipient, pubkey, wrapped, columns FROM _recipients ORDER BY block, recipient').raw(true).all()
  return rows.map(([block, recipient, pubkey, wrapped, columns]) => {
    if (typeof block !== 'string' || (block !== '' && !isHash(block))) throw malformed('block must be \'\' (this block) or the hash of an earlier block')
    if (typeof recipient !== 'string' || !isKeyId(recipient)) throw malformed('recipient must be a key id')
    if (typeof pubkey !== 'string') throw malformed(`pubkey of ${recipient} must be hex SPKI`)
    let pub: PublicKey
    try {
      pub = parsePublicKey(pubkey)
    } catch {
      throw malformed(`pubkey of ${recipient} is not a canonical P-256 key`)
    }
    if (pub.hex !== pubkey || pub.id !== recipient) throw malformed(`pubkey does not hash to ${recipient}`)
    if (!(wrapped instanceof Uint8Array) || !isWrappedKeyShape(wrapped)) throw malformed(`the wrapped key for ${recipient} is not a wrapped P-256 ECIES key`)
    return { block, recipient, pubkey, wrapped, columns: parseColumnsJson(columns) }
  })
}

/**
 * Structural checks of a block's confidential columns, made by every validator without a key:
 * `_recipients` rows are well formed, this block's own rows agree on the encrypted columns, which
 * name rowid tables of the block (not their rowid alias), and every value in them is a sealed value.
 */
export function checkConfidential (db: Db, height: number, userTables: readonly UserTable[]): RecipientRow[] {
  const rows = readRecipients(db)
  const own = rows.filter(r => r.block === '')
  if (height === 0 && rows.length > 0) throw malformed('a genesis block cannot carry encrypted columns (it has no chain id to bind them to)')
  const first = own[0]
  if (first === undefined) return rows
  const spec = JSON.stringify(first.columns)
  if (own.some(r => JSON.stringify(r.columns) !== spec)) throw malformed('this block\'s rows name different encrypted columns')
  for (const c of resolveEncryptedColumns(first.columns, userTables, malformed)) {
    const bad = db.prepare<unknown[], { n: number }>(`SELECT count(*) AS n FROM ${quoteIdent(c.table.name)} WHERE typeof(${quoteIdent(c.column)}) <> 'blob' OR length(${quoteIdent(c.column)}) < ${MIN_SEALED_BYTES} OR substr(${quoteIdent(c.column)}, 1, 1) <> x'01'`).get()
    if ((bad?.n ?? 0) > 0) {
      throw new BlockError('CIPHERTEXT_MALFORMED', `${bad?.n ?? 0} value(s) of the encrypted column ${c.table.name}.${c.column} are not sealed values`, {
        hint: 'every value of an encrypted column is a BLOB: version 1, nonce, ciphertext, tag (docs/confidential.md)',
        details: { table: c.table.name, column: c.column }
      })
    }
  }
  return rows
}

/** Encrypted columns resolved against the block's tables; `fail` says why one cannot be encrypted. */
export function resolveEncryptedColumns (columns: readonly EncryptedColumn[], userTables: readonly UserTable[], fail: (why: string) => Error): Array<{ table: UserTable, column: string }> {
  const seen = new Set<string>()
  return columns.map(([tableName, column]) => {
    const t = userTables.find(u => u.name === tableName)
    if (t === undefined) throw fail(`no table ${JSON.stringify(tableName)} in the block`)
    if (t.withoutRowid) throw fail(`table ${tableName} is WITHOUT ROWID: encrypted columns need a rowid table`)
    if (!t.columns.includes(column)) throw fail(`table ${tableName} has no column ${JSON.stringify(column)}`)
    const k = JSON.stringify([tableName, column])
    if (seen.has(k)) throw fail(`${tableName}.${column} is named twice`)
    seen.add(k)
    return { table: t, column }
  })
}

export interface EncryptSpec {
  columns: EncryptedColumn[]
  recipients: PublicKey[]
  /** Tests and vectors only: a fixed data key. */
  dataKey?: Uint8Array
}

/** Data keys of earlier blocks to wrap again for (more) recipients: `block` is that block's hash. */
export interface RewrapSpec {
  block: string
  columns: EncryptedColumn[]
  dataKey: Uint8Array
  recipients: PublicKey[]
}

const refused = (why: string): BlockError => new BlockError('ENCRYPT_REFUSED', `cannot encrypt: ${why}`, {
  hint: 'name columns as TABLE.COLUMN of a rowid table in the file, give at least one --recipient, and never encrypt the INTEGER PRIMARY KEY'
})

/**
 * Encrypt the named columns of a block being built, in place, and write `_recipients`: a fresh
 * data key, each value sealed in its cell (row = position in rowid order), the key wrapped for
 * every recipient. Runs inside the build's transaction, before the manifest is computed, so the
 * Merkle leaves commit to the ciphertext.
 */
export function encryptColumns (db: Db, chainId: string, userTables: readonly UserTable[], spec: EncryptSpec | undefined, rewrap: readonly RewrapSpec[] = []): void {
  if (spec === undefined && rewrap.length === 0) return
  if (chainId === '') throw refused('a genesis block cannot carry encrypted columns')
  const hasTable = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_recipients'").get() !== undefined
  if (hasTable) throw refused('the input already has a _recipients table (it holds encrypted columns)')
  db.exec(RECIPIENTS_DDL)
  const ins = db.prepare('INSERT INTO _recipients (block, recipient, pubkey, wrapped, columns) VALUES (?, ?, ?, ?, ?)')
  const wrapFor = (block: string, columns: readonly EncryptedColumn[], dataKey: Uint8Array, recipients: readonly PublicKey[]): void => {
    if (recipients.length === 0) throw refused('no recipient')
    const json = JSON.stringify(columns)
    const ids = new Set<string>()
    for (const r of recipients) {
      if (ids.has(r.id)) continue
      ids.add(r.id)
      ins.run(block, r.id, r.hex, wrapDataKey(dataKey, r, chainId), json)
    }
  }
  if (spec !== undefined) {
    if (spec.columns.length === 0) throw refused('no column')
    const cols = resolveEncryptedColumns(spec.columns, userTables, refused)
    const dataKey = spec.dataKey ?? newDataKey()
    // The plaintext a cell held must not stay behind in a freed cell or page of the block file.
    db.pragma('secure_delete = ON')
    for (const { table, column } of cols) {
      const t = quoteIdent(table.name)
      const c = quoteIdent(column)
      const update = db.prepare(`UPDATE ${t} SET ${c} = ? WHERE ${table.rowidAlias} = ?`)
      const rows = db.prepare<unknown[], [bigint, SqlValue]>(`SELECT ${table.rowidAlias}, ${c} FROM ${t} ORDER BY ${canonicalOrder(table)}`).raw(true).safeIntegers(true).all()
      const prefix = cellAadPrefix(chainId, table.name, column)
      let i = 0
      try {
        for (const [rowid, v] of rows) update.run(sealValue(dataKey, cellAadAt(prefix, i++), encodeCellValue(v)), rowid)
      } catch (err) {
        // An INTEGER PRIMARY KEY (the rowid), a STRICT type or a CHECK cannot hold a BLOB.
        throw refused(`${table.name}.${column} cannot hold the sealed values (a BLOB): ${errorMessage(err)}`)
      }
    }
    wrapFor('', spec.columns, dataKey, spec.recipients)
  }
  for (const r of rewrap) wrapFor(r.block, r.columns, r.dataKey, r.recipients)
}

/** Unwrap with whichever of `keys` a row names; undefined when none of them is a recipient. */
export function unwrapFor (rows: readonly RecipientRow[], keys: readonly SigningKey[], chainId: string): Uint8Array | undefined {
  for (const k of keys) {
    const r = rows.find(x => x.recipient === k.id)
    if (r !== undefined) return unwrapDataKey(r.wrapped, k, chainId)
  }
  return undefined
}
