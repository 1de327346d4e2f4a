import { isHash } from '../util/index.js'
import { BtreeUnsupported } from './btree.js'
import { PageFile, type HeldBytes } from './page-file.js'
import { readTableRows, type RecordValue } from './record-values.js'
import { ALLOWED_SQLITE_TABLES, KEYS_DDL, META_DDL, RESERVED_TABLES, TABLES_DDL } from './constants.js'
import { headerFromMeta } from './header.js'
import { parseKeyOpRow, type KeyOpRow } from './keyops.js'
import { rowsRootOf, type TableEntry } from './manifest.js'
import type { BlockFile } from './read.js'
import { compareNames } from './schema.js'
import { checkSqliteBytes, checkSqliteFileSync } from './sqlite-header.js'

const MAX_KEY_OPS = 10_000
const MAX_SCHEMA_ROWS = 4 * 1000 + 16

/**
 * What plain `verify` (and reindex) needs of a v2 block — `_meta`, `_keys` and `_tables` — read
 * from the file's pages without opening it in SQLite, which for small blocks cost several times
 * hashing them. Only for blocks this node has already validated: the caller checks the file's
 * hash, links and signatures, which pin every byte to what was sealed and imported; `readBlockFile`
 * remains the structural validation of untrusted files (and `verify --deep` runs it).
 *
 * Returns undefined whenever the block is not exactly as an imported v2 block is (a schema row
 * other than a table or index, a reserved table with other DDL, `_tables` that does not list the
 * user tables with their DDL, a RowsRoot that does not match, anything the page reader does not
 * read with certainty); the caller then reads the file with readBlockFile, which gives the coded
 * error. `userTables` is left empty: nothing on this path uses the user tables' columns. `data`:
 * the file's bytes, when the caller has read them whole (a small block it has just hashed), or the
 * parts of them it holds with the descriptor it has open (a large one: see HeldBytes).
 */
export function readBlockPages (path: string, maxBytes: number, data?: Buffer | HeldBytes): BlockFile | undefined {
  const head = data === undefined || Buffer.isBuffer(data) ? data : data.parts.find(p => p.at === 0 && p.bytes.length >= Math.min(100, data.size))?.bytes
  const sqlite = head === undefined ? checkSqliteFileSync(path, maxBytes) : checkSqliteBytes(head, maxBytes, Buffer.isBuffer(data) || data === undefined ? head.length : data.size)
  let f: PageFile
  try {
    f = new PageFile(path, data)
  } catch (err) {
    if (err instanceof BtreeUnsupported) return undefined
    throw err
  }
  try {
    return readReserved(f, path, sqlite)
  } catch (err) {
    // A coded error here (a bad _meta field) is readBlockFile's to give, with its full context.
    if (err instanceof BtreeUnsupported || (err instanceof Error && 'code' in err)) return undefined
    throw err
  } finally {
    f.close()
  }
}

const text = (v: RecordValue | undefined): string | undefined => typeof v === 'string' ? v : undefined
const key = (v: unknown): string => typeof v === 'string' ? v : ''

/** The tables of sqlite_schema: the reserved ones' root pages (also by name), the user tables' DDL by name. */
export interface Schema { roots: ReadonlyMap<string, number>, userDdl: ReadonlyMap<string, string>, meta: number, keys: number, tables: number }

const RESERVED_DDL = { _meta: META_DDL, _keys: KEYS_DDL, _tables: TABLES_DDL }

/** The schema, if it is one of an imported v2 block (tables and indexes, reserved DDL exact). */
function parseSchema (f: PageFile): Schema | undefined {
  const roots = new Map<string, number>()
  const reservedDdl = new Map<string, string>()
  const userDdl = new Map<string, string>()
  for (const [type, name, , root, sql] of readTableRows(f, 1, MAX_SCHEMA_ROWS)) {
    if (type === 'index') continue
    if (type !== 'table' || typeof name !== 'string' || typeof root !== 'number' || typeof sql !== 'string') return undefined
    if (RESERVED_TABLES.some(r => r === name)) { roots.set(name, root); reservedDdl.set(name, sql) }
    else if (ALLOWED_SQLITE_TABLES.has(name)) continue
    else if (name.startsWith('_') || name.toLowerCase().startsWith('sqlite_') || !sql.startsWith('CREATE TABLE ')) return undefined
    else userDdl.set(name, sql)
  }
  for (const [name, want] of Object.entries(RESERVED_DDL)) if (reservedDdl.get(name) !== want) return undefined
  return { roots, userDdl, meta: roots.get('_meta') ?? 0, keys: roots.get('_keys') ?? 0, tables: roots.get('_tables') ?? 0 }
}

// The last schema parsed from a page 1 that held all of it, with that page's bytes (the file
// header included: page size, reserved bytes and text encoding are in it). Blocks of a chain
// mostly share their schema — every empty block has the same page 1 — and decoding and
// comparing its DDL was a third of reading a small block's reserved tables.
let cached: { page: Buffer, schema: Schema } | undefined
let scratch = Buffer.alloc(0)

/** parseSchema, or its last result when page 1 has the bytes it had then (page 1 marked as read all the same). */
function readSchema (f: PageFile): Schema | undefined {
  const size = f.header.pageSize
  if (scratch.length !== size) scratch = Buffer.allocUnsafe(size)
  const page1 = f.peekPage(1, scratch)
  if (cached !== undefined && cached.page.equals(page1)) {
    f.mark(1)
    return cached.schema
  }
  const before = f.pagesUsed
  const schema = parseSchema(f)
  // Only a schema read from page 1 alone (no overflow page, no interior page) is a function of its bytes.
  if (schema !== undefined && f.pagesUsed === before + 1) cached = { page: Buffer.from(page1), schema }
  return schema
}

/**
 * The schema of the file `data` (held whole, pages of `pageSize`) when its page 1 has the bytes
 * of the last one readSchema parsed and kept on this thread, else undefined (read-lean.ts).
 */
export function knownSchema (data: Buffer, pageSize: number): Schema | undefined {
  if (cached === undefined || cached.page.length !== pageSize || data.length < pageSize) return undefined
  return cached.page.compare(data, 0, pageSize, 0, pageSize) === 0 ? cached.schema : undefined
}

function readReserved (f: PageFile, path: string, sqlite: BlockFile['sqlite'] & { size: number }): BlockFile | undefined {
  const schema = readSchema(f)
  if (schema === undefined) return undefined
  const { roots, userDdl } = schema
  const metaRows = readTableRows(f, roots.get('_meta') ?? 0, 64)
  const meta = new Map<string, string>()
  for (const [k, v] of metaRows) {
    const key = text(k)
    const value = text(v)
    if (key === undefined || value === undefined) return undefined
    meta.set(key, value)
  }
  const header = headerFromMeta(meta)
  if (header.version !== 2) return undefined
  // Built by push into a literal, not by map(): V8 then creates every later array here with the
  // elements kind of the genesis's rows; an empty map() result (most blocks) had another, and
  // touching it made V8 drop and recompile this whole function in every worker.
  const keyRows: Array<Parameters<typeof parseKeyOpRow>[0]> = []
  for (const [op, pubkeyHash, pubkey, sigkeyHash, signature, metadata] of readTableRows(f, roots.get('_keys') ?? 0, MAX_KEY_OPS)) {
    keyRows.push({ op, pubkey_hash: pubkeyHash, pubkey, sigkey_hash: sigkeyHash, signature, metadata })
  }
  // readKeyOps' order: ORDER BY pubkey_hash, sigkey_hash (BINARY: byte order).
  keyRows.sort((a, b) => compareNames(key(a.pubkey_hash), key(b.pubkey_hash)) || compareNames(key(a.sigkey_hash), key(b.sigkey_hash)))
  const keyOps: KeyOpRow[] = keyRows.map((r, i) => parseKeyOpRow(r, i))
  const tables: TableEntry[] = []
  for (const [name, sql, rows, root] of readTableRows(f, roots.get('_tables') ?? 0, userDdl.size + 1)) {
    if (typeof name !== 'string' || typeof sql !== 'string' || typeof rows !== 'number' || !Number.isSafeInteger(rows) || rows < 0 || !isHash(root)) return undefined
    if (userDdl.get(name) !== sql) return undefined
    tables.push({ name, sql, rows, root })
  }
  if (tables.length !== userDdl.size) return undefined
  tables.sort((a, b) => compareNames(a.name, b.name))
  if (rowsRootOf(tables) !== header.rowsRoot) return undefined
  // A block with encrypted columns has _recipients, which makes this path return undefined above.
  return { path, size: sqlite.size, sqlite, header, keyOps, tables, userTables: [], recipients: [] }
}
