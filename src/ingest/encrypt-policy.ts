import type { EncryptSpec } from '../block/index.js'
import { parsePublicKey, type PublicKey } from '../crypto/index.js'
import { errorMessage, isStringArray, parseJson, quote, said, type Said } from '../util/index.js'
import { IngestError } from './errors.js'
import { scratchDb, type TableSchema } from './schema.js'
import type { PendingStore } from './store.js'

/**
 * A table's encrypt policy (docs/confidential.md, "Record API"): the columns the sealer encrypts
 * and the recipients (canonical SPKI hex) it wraps each block's data key for.
 */
export interface EncryptPolicy { columns: string[], recipients: string[] }

// A column's name is the client's text (the policy's, or the declared statement's): quoted (util/said.ts).
const bad = (table: string, why: string | Said): IngestError => new IngestError('INGEST_BAD_ENCRYPT', said`table ${quote(table)}: ${why}`, {
  hint: 'name columns of the declared table (not its INTEGER PRIMARY KEY) and give recipients as hex SPKI or PEM public keys (`petal keys export`)',
  details: { table },
  quoted: { details: ['table'] }
})

/**
 * Check a policy against the declared table, so that no seal can fail on it later (a batch that
 * cannot be sealed would hold its rows back): rowid table, existing columns, not the rowid alias,
 * a type that can hold a BLOB; recipients canonical P-256 keys, the same set as any other
 * encrypted table's (one block has one data key, wrapped for one set of recipients).
 */
export function checkPolicy (t: TableSchema, input: { columns: unknown, recipients: unknown }, others: ReadonlyMap<string, EncryptPolicy>): EncryptPolicy {
  const { columns, recipients } = input
  if (!Array.isArray(columns) || columns.length === 0 || !columns.every(c => typeof c === 'string')) throw bad(t.name, 'encrypt.columns must be a non-empty list of column names')
  if (!Array.isArray(recipients) || recipients.length === 0 || !recipients.every(r => typeof r === 'string')) throw bad(t.name, 'encrypt.recipients must be a non-empty list of public keys')
  const keys: PublicKey[] = recipients.map((r: string) => {
    try {
      return parsePublicKey(r)
    } catch (err) {
      throw bad(t.name, `a recipient is not a canonical P-256 public key: ${errorMessage(err)}`)
    }
  })
  const db = scratchDb()
  const names: string[] = []
  try {
    db.exec(t.sql)
    const listed = db.prepare<unknown[], { wr: number, strict: number }>("SELECT wr, strict FROM pragma_table_list WHERE schema = 'main' AND name = ?").get(t.name)
    if (listed?.wr === 1) throw bad(t.name, 'a WITHOUT ROWID table cannot have encrypted columns')
    const info = db.prepare<unknown[], { name: string, type: string, pk: number }>("SELECT name, type, pk FROM pragma_table_info(?, 'main')").all(t.name)
    const pks = info.filter(c => c.pk > 0)
    for (const c of columns) {
      const col = info.find(x => x.name.toLowerCase() === String(c).toLowerCase())
      if (col === undefined) throw bad(t.name, said`no column ${quote(JSON.stringify(c))}`)
      if (col.pk > 0 && pks.length === 1 && col.type.toUpperCase() === 'INTEGER') throw bad(t.name, said`${quote(col.name)} is the INTEGER PRIMARY KEY (the rowid): it cannot be encrypted`)
      if (listed?.strict === 1 && !['BLOB', 'ANY'].includes(col.type.toUpperCase())) throw bad(t.name, said`${quote(col.name)} is ${quote(col.type)} in a STRICT table: it cannot hold the sealed values (BLOBs)`)
      if (names.includes(col.name)) throw bad(t.name, said`${quote(col.name)} is named twice`)
      names.push(col.name)
    }
  } finally {
    db.close()
  }
  const set = [...new Set(keys.map(k => k.hex))].sort()
  for (const [name, p] of others) {
    if (name === t.name.toLowerCase()) continue
    if ([...p.recipients].sort().join() !== set.join()) throw bad(t.name, `its recipients differ from those of table ${name}: one block has one data key, wrapped for one set of recipients`)
  }
  return { columns: names, recipients: set }
}

/** What the sealer encrypts in a block holding `tables` (their names as the block spells them). */
export function encryptSpecFor (tables: Iterable<string>, policies: ReadonlyMap<string, EncryptPolicy>): EncryptSpec | undefined {
  const columns: Array<[string, string]> = []
  let recipients: string[] | undefined
  for (const name of tables) {
    const p = policies.get(name.toLowerCase())
    if (p === undefined) continue
    // checkPolicy keeps one recipient set for every encrypted table: one block has one data key.
    if (recipients !== undefined && [...p.recipients].sort().join() !== recipients.join()) {
      throw new IngestError('INGEST_BAD_ENCRYPT', `tables with different recipients in one batch (table ${name})`, { hint: 'give every encrypted table the same recipients (PUT /tables/{name})', details: { table: name } })
    }
    recipients = [...p.recipients].sort()
    for (const c of p.columns) columns.push([name, c])
  }
  return recipients === undefined ? undefined : { columns, recipients: recipients.map(r => parsePublicKey(r)) }
}

/** The encrypt policies kept in pending.db, by lower-case table name. */
export function readPolicies (store: PendingStore): Map<string, EncryptPolicy> {
  const rows = store.stmt('SELECT name, columns, recipients FROM encrypt_policies').all() as Array<{ name: string, columns: string, recipients: string }>
  const out = new Map<string, EncryptPolicy>()
  for (const r of rows) {
    const columns = parseJson(r.columns)
    const recipients = parseJson(r.recipients)
    if (!isStringArray(columns) || !isStringArray(recipients)) continue
    out.set(r.name.toLowerCase(), { columns, recipients })
  }
  return out
}

/** Set (or with undefined, drop) a table's encrypt policy (inside the store's write()). */
export function savePolicy (store: PendingStore, name: string, p: EncryptPolicy | undefined): void {
  if (p === undefined) store.stmt('DELETE FROM encrypt_policies WHERE name = ?').run(name)
  else store.stmt('INSERT OR REPLACE INTO encrypt_policies (name, columns, recipients) VALUES (?, ?, ?)').run(name, JSON.stringify(p.columns), JSON.stringify(p.recipients))
}
