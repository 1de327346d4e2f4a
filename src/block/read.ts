import { isHash, isPetalError, throwIfAborted, type WorkMeter } from '../util/index.js'
import { RESERVED_TABLES } from './constants.js'
import { checkConfidential, type RecipientRow } from './confidential.js'
import { BlockError } from './errors.js'
import { headerFromMeta, type BlockHeader } from './header.js'
import { readKeyOps, type KeyOpRow } from './keyops.js'
import { rowsRootOf, tableRoot, type TableEntry } from './manifest.js'
import { tableRootParallel, type TableRootPool } from './parallel-roots.js'
import { planFastTable, WASM_AFTER_ROWS, type FastPlan } from './fast-rows.js'
import type { SharedTable, TableShare } from './shared-roots.js'
import { BtreeUnsupported } from './btree.js'
import { offerEarly, takeEarly, type EarlyTable } from './read-early.js'
import { emptyObjects, inspectSchema, readSchemaRows, schemaObjectsOf, type SchemaRows, type UserTable } from './schema.js'
import { checkSqliteBytes, checkSqliteFile, type SqliteHeader } from './sqlite-header.js'
import { pageOne, recallSchema, rememberSchema } from './schema-memo.js'
import { heldStatement } from './held-db.js'
import { againIfCorrupt, closeBlockDb, guardSqlite, isEnvironmentFailure, openBlockReadonly, sqliteFailure, type Db } from './sqlite.js'

/** Everything a block file says about itself, after structural validation. */
export interface BlockFile {
  path: string
  size: number
  sqlite: SqliteHeader
  header: BlockHeader
  keyOps: KeyOpRow[]
  /** The `_tables` manifest as stored in the block (v2); empty for v1. */
  tables: TableEntry[]
  userTables: UserTable[]
  /** `_recipients` rows (blocks with encrypted columns; empty otherwise), checked for shape. */
  recipients: RecipientRow[]
}

export interface ReadBlockOptions {
  /** The chain's `max_block_bytes`. */
  maxBytes: number
  /** Run `PRAGMA quick_check` (default true). */
  quickCheck?: boolean
  /** Recompute every table's Merkle root and compare with `_tables` (default true). */
  checkManifest?: boolean
  /**
   * The manifest the caller itself computed from this very file's tables (signimportblock, which
   * built the file privately under the write lock): `_tables` is compared with it instead of
   * hashing every row a second time.
   */
  knownTables?: readonly TableEntry[]
  /** Worker threads for hashing large tables (the caller owns it); without one, rows are hashed on this thread. */
  pool?: TableRootPool
  /** A thread's channel to others of its kind (verify --deep's workers): large tables are hashed with the help of any that is idle. */
  share?: TableShare
  signal?: AbortSignal
  /** Counts the work: one pass over the file for quick_check, one for the manifest's rows. */
  meter?: WorkMeter
  /**
   * The file's first bytes (at least 100, or all of it) and its size, as the caller just read
   * them from the regular file it opened, or wrote them to the private file it created: the
   * header is checked on these (checkSqliteBytes, the same checks and codes) instead of opening
   * and reading the file again before SQLite does.
   */
  head?: BlockHead
  /**
   * The whole file, as the caller has just read it from the regular file it opened and hashed it
   * (verify --deep): the manifest's page reader reads the tables' pages from these bytes instead
   * of reading the file a third time. SQLite's checks still read the file.
   */
  bytes?: Buffer
  /**
   * The file is this process's own download into its private tmp/, hashed before it is opened:
   * SQLite reads it through a memory map (BlockConnectionOptions.mapOwnDownload says why only then).
   */
  ownDownload?: boolean
  /**
   * v1 blocks carry no `_tables`: compute their entries (row counts and Merkle roots) from the
   * content, so the index and the query catalog hold them as for v2 (default false).
   */
  v1Tables?: boolean
}

/** A file's first bytes (at least the SQLite header's 100, or all of it) and its size. */
export interface BlockHead { bytes: Uint8Array, size: number }

/**
 * Structural validation of an untrusted block file, in order: size and header bytes (before
 * SQLite touches it), open read-only with defensive settings, quick_check, schema allow-list and
 * reserved-table shapes, `_meta`, `_keys` rows, and the `_tables` manifest against the content.
 */
export async function readBlockFile (path: string, options: ReadBlockOptions): Promise<BlockFile> {
  return await againIfCorrupt(path, async () => await readOnce(path, options))
}

async function readOnce (path: string, options: ReadBlockOptions): Promise<BlockFile> {
  const sqlite = options.head === undefined ? await checkSqliteFile(path, options.maxBytes) : checkSqliteBytes(options.head.bytes, options.maxBytes, options.head.size)
  throwIfAborted(options.signal)
  const db = openBlockReadonly(path, options.ownDownload === true ? { mapOwnDownload: sqlite.size } : options.bytes !== undefined ? { held: options.bytes } : {})
  const m = options.meter
  let failed = true
  let early: Map<string, EarlyTable> | undefined
  try {
    // One read transaction for every statement below: on its own, each statement took and
    // released the file's shared lock and re-checked its header (about half of a small block's
    // checks). Nothing writes a block file while it is read, so SQLite reads the same. The
    // transaction starts here, before the first statement is prepared: loading the schema in a
    // prepare outside a read transaction takes and releases the lock once more, with its probes
    // for a hot journal and a WAL (8 system calls a block). `PRAGMA schema_version` reads only the
    // header's cookie, through the same b-tree open (page 1) that loading the schema starts with,
    // so a file SQLite cannot open fails here with the code it failed with at that prepare.
    db.exec('BEGIN; PRAGMA schema_version')
    if (options.quickCheck !== false) m?.stage('checking', sqlite.size)
    // Large tables hashed by idle threads while this one runs quick_check (read-early.ts).
    if (options.share !== undefined && options.quickCheck !== false && options.checkManifest !== false && options.knownTables === undefined) early = offerEarly(db, path, options.share, options.bytes)
    const file = guardSqlite(path, () => readOpen(db, path, sqlite, options))
    if (file.header.version === 2 && options.checkManifest !== false) {
      if (options.knownTables === undefined) {
        m?.stage('hashing rows', sqlite.size)
        await checkTableRoots(db, file, options.pool, options.signal, m, options.share, options.bytes, early)
      } else {
        checkKnownRoots(file, options.knownTables)
      }
    }
    if (file.header.version === 1 && options.v1Tables === true) {
      for (const t of file.userTables) file.tables.push({ name: t.name, sql: t.sql, ...await tableRootParallel(path, db, t, options.pool, options.signal) })
    }
    if (options.quickCheck !== false || options.checkManifest !== false) m?.finish()
    failed = false
    return file
  } catch (err) {
    throw isPetalError(err) || isEnvironmentFailure(err) ? err : sqliteFailure(err, path)
  } finally {
    // Offers not taken (a refused block): no thread takes another of their chunks.
    for (const e of early?.values() ?? []) e.shared.cancel()
    // A refused block's connection is not kept for the next (held-db.ts).
    closeBlockDb(db, failed)
  }
}

// Tables claiming at most FEW_ROWS rows in files of at most FEW_ROWS_MAX_FILE bytes are hashed through SQLite.
const FEW_ROWS = 32
const FEW_ROWS_MAX_FILE = 64 * 1024

/** The expensive manifest step: every table's rows hash to its recorded count and root. */
async function checkTableRoots (db: Db, file: BlockFile, pool: TableRootPool | undefined, signal?: AbortSignal, m?: WorkMeter, share?: TableShare, bytes?: Buffer, early?: Map<string, EarlyTable>): Promise<void> {
  const claimed = new Map(file.tables.map(t => [t.name, t]))
  // The claimed row counts only size the progress; the roots are what is checked.
  const total = file.tables.reduce((n, t) => n + t.rows, 0)
  let hashed = 0
  const onRows = m === undefined ? undefined : (n: number): void => { hashed += n; m.fraction(total === 0 ? 1 : hashed / total) }
  for (const t of file.userTables) {
    const c = claimed.get(t.name)
    // A table of a few rows is hashed through SQLite (the reference path, so the same root): the
    // fast path's plan costs more statements than such a table's rows. The file's size bounds
    // that cost whatever the claim. A record SQLite cannot read is CORRUPT on both paths, with or
    // without quick_check before (build-read.test.ts).
    const few = c !== undefined && c.rows <= FEW_ROWS && file.size <= FEW_ROWS_MAX_FILE
    // A table that claims enough rows to reach the WebAssembly leaf encoder anyway starts there: in
    // 'auto' its first rows went through the JavaScript encoder, whose code every fresh thread then
    // compiled. The claim only picks the encoder (both give the same leaves); the root is the check.
    const mode = c !== undefined && c.rows >= WASM_AFTER_ROWS ? 'wasm' : undefined
    const plan = few ? null : planOf(db, t)
    const offered = takeEarly(early, t, plan)
    if (few) offered?.cancel()
    const { rows, root } = few ? tableRoot(db, t, signal, onRows) : (offered === undefined ? undefined : sharedRoot(offered, signal, onRows)) ?? await tableRootParallel(file.path, db, t, pool, signal, onRows, share, mode, bytes, offered === undefined ? plan : null)
    if (rows !== c?.rows || root !== c.root) {
      throw new BlockError('MANIFEST_MISMATCH', `_tables does not match the block content: rows of ${JSON.stringify(t.name)} do not hash to its recorded root`, { details: { table: t.name } })
    }
  }
}

/** An offered table's root (shared-roots.ts), or undefined where the page reader declines (then the reference decides). */
function sharedRoot (offered: SharedTable, signal?: AbortSignal, onRows?: (n: number) => void): { rows: number, root: string } | undefined {
  try {
    return offered.finish(signal, onRows)
  } catch (err) {
    if (err instanceof BtreeUnsupported) return undefined
    throw err
  }
}

// Fast-path plans (planFastTable) by table. readOpen hands out the same UserTable object again only
// from the schema memo, i.e. for a block whose page 1 has the same bytes (schema-memo.ts), and a
// plan's statements read nothing but the schema, which those bytes fix; a table inspected afresh is
// a new object and is planned on its own connection. Three statements a block (~0.1 ms of a 1 MB
// block's check) where a load thread checks block after block of the same tables.
const plans = new WeakMap<UserTable, FastPlan | null>()

function planOf (db: Db, t: UserTable): FastPlan | null {
  let p = plans.get(t)
  if (p === undefined) {
    p = planFastTable(db, t) ?? null
    plans.set(t, p)
  }
  return p
}

function checkKnownRoots (file: BlockFile, known: readonly TableEntry[]): void {
  const claimed = new Map(file.tables.map(t => [t.name, t]))
  if (known.length !== file.tables.length) throw new BlockError('MANIFEST_MISMATCH', `_tables has ${file.tables.length} entries for ${known.length} tables`)
  for (const t of known) {
    const c = claimed.get(t.name)
    if (t.rows !== c?.rows || t.root !== c.root || t.sql !== c.sql) {
      throw new BlockError('MANIFEST_MISMATCH', `_tables does not match the block content: rows of ${JSON.stringify(t.name)} do not hash to its recorded root`, { details: { table: t.name } })
    }
  }
}

function readOpen (db: Db, path: string, sqlite: SqliteHeader & { size: number }, options: ReadBlockOptions): BlockFile {
  // What the schema holds, as SQLite reads it (reading it decides nothing yet, and fails only
  // where the checks' own first statement would), before any table is read: a view or virtual
  // table named _meta must not run.
  // The schema's reads, as they gave for the last block with this very page 1 (schema-memo.ts).
  const page = pageOne(options.head?.bytes, sqlite.pageSize)
  const known = page === undefined ? undefined : recallSchema(page)
  const raw = known?.raw ?? readSchemaRows(db)
  const quick = options.quickCheck !== false
  // One statement that checks all the four below check (onlyReservedIndexes) where it costs no
  // more. A file it does not pass goes through them one by one, so that a refused block gets
  // their code and message in their order (a corrupt index and a view: the view's
  // SCHEMA_NOT_ALLOWED, as before), and one they pass is still accepted.
  const passed = quick && onlyReservedIndexes(raw) && wholeCheckPasses(db)
  if (quick && !passed) {
    const result = db.pragma('quick_check(1)', { simple: true })
    if (result !== 'ok') throw new BlockError('CORRUPT', `SQLite quick_check failed: ${String(result)}`)
  }
  // Then the version decides which rules apply; _meta exists in every version.
  const objects = known?.objects ?? schemaObjectsOf(db, raw)
  if (quick && !passed) checkReservedIndexes(db, objects.tables.map(t => t.name))
  const hasMeta = objects.tables.some(t => t.name === '_meta')
  if (!hasMeta) throw new BlockError('BAD_META', 'block has no _meta table')
  const metaRows = heldStatement(db, META_SQL, () => db.prepare<unknown[], [unknown, unknown]>(META_SQL).raw(true)).all()
  const meta = new Map<string, string>()
  for (const [k, v] of metaRows) {
    if (typeof k !== 'string' || typeof v !== 'string') throw new BlockError('BAD_META', '_meta keys and values must be TEXT')
    meta.set(k, v)
  }
  if (metaRows.length > 64) throw new BlockError('BAD_META', '_meta has too many rows')
  const version = meta.get('Version') === '1' ? 1 : 2
  const schema = known !== undefined && version === 2 ? known.v2 : inspectSchema(db, version, objects)
  const header = headerFromMeta(meta)
  if (!schema.has.keys) throw new BlockError('RESERVED_SCHEMA', 'block has no _keys table', { details: { table: '_keys' } })
  const keyOps = readKeyOps(db)
  let tables: TableEntry[] = emptyObjects()
  if (header.version === 2) {
    if (!schema.has.tables) throw new BlockError('RESERVED_SCHEMA', 'block has no _tables table', { details: { table: '_tables' } })
    tables = readTablesManifest(db)
    checkManifestShape(header, schema.userTables, tables)
  }
  const recipients = schema.has.recipients ? checkConfidential(db, header.height, schema.userTables) : []
  if (page !== undefined && known === undefined && version === 2) rememberSchema(page, { raw, objects, v2: schema })
  // A copy: the remembered list is handed to every later block with this schema.
  return { path, size: sqlite.size, sqlite, header, keyOps, tables, userTables: [...schema.userTables], recipients }
}

/**
 * quick_check does not compare an index's content with its table's. SQLite reads `_keys` and
 * `_tables` through their primary-key indexes (ORDER BY), plain verify and reindex from the table
 * b-trees (read-pages.ts): a reserved table that disagrees with its index would give import and
 * reindex different key operations. Checking the three small tables and their indexes is cheap.
 */
function checkReservedIndexes (db: Db, tables: readonly string[]): void {
  for (const name of RESERVED_TABLES) {
    if (!tables.includes(name)) continue
    const result = db.pragma(`integrity_check(${name})`, { simple: true })
    if (result !== 'ok') throw new BlockError('CORRUPT', `SQLite integrity_check of ${name} failed: ${String(result)}`)
  }
}

// The primary-key indexes of the reserved tables, as SQLite names them.
const RESERVED_AUTOINDEXES = new Set(RESERVED_TABLES.map(t => `sqlite_autoindex_${t}_1`))

/**
 * Whether to try `PRAGMA integrity_check` of the whole file first. It runs every check that
 * quick_check and the reserved tables' integrity_checks run (SQLite 3.53, sqlite3Pragma: the
 * whole-file b-tree check and row checks of quick_check, each index's entries against its table's
 * rows), and beyond them only the row order of WITHOUT ROWID tables and the other tables' indexes:
 * a file it passes passes those four, and one it refuses is checked again by them (readOpen).
 * Worth it where the extra work is nil: no WITHOUT ROWID table and no index but the reserved
 * tables' primary keys. Ordinary tables only: a view or virtual table is refused after the checks,
 * and a virtual table's module could answer a quick check and a full one differently.
 */
function onlyReservedIndexes ({ rows, listed }: SchemaRows): boolean {
  return listed.every(t => t.type === 'table' && t.wr === 0) && rows.every(r => r.type !== 'index' || (r.sql === null && RESERVED_AUTOINDEXES.has(r.name)))
}

/** `PRAGMA integrity_check` of the whole file says ok; a failure of this machine is thrown, SQLite's verdict on the file is not. */
function wholeCheckPasses (db: Db): boolean {
  try {
    // db.pragma's simple form (pluck, get), kept on the kept connection.
    return heldStatement(db, WHOLE_CHECK_SQL, () => db.prepare<unknown[], unknown>(WHOLE_CHECK_SQL).pluck()).get() === 'ok'
  } catch (err) {
    if (isEnvironmentFailure(err)) throw err
    return false
  }
}

const META_SQL = 'SELECT key, value FROM _meta LIMIT 65'
const TABLES_SQL = 'SELECT name, sql, rows, root FROM _tables ORDER BY name'
const WHOLE_CHECK_SQL = 'PRAGMA integrity_check(1)'

function readTablesManifest (db: Db): TableEntry[] {
  return tableEntriesOf(heldStatement(db, TABLES_SQL, () => db.prepare<unknown[], unknown[]>(TABLES_SQL).raw(true)).all())
}

/**
 * `_tables`' rows as entries, pushed onto emptyObjects() rather than made by `rows.map`: TurboFan's
 * inlined `map` makes its result holey where the builtin's is packed, and checkManifestShape
 * (inlined into readOpen), optimised on one, was deoptimised by the other ("wrong map") in each
 * load thread of a catch-up, then compiled again (docs/performance/catchup.md, "Session 49: what the catch-up's isolates compile").
 */
export function tableEntriesOf (rows: unknown[][]): TableEntry[] {
  const out = emptyObjects<TableEntry>()
  for (const [name, sql, n, root] of rows) {
    if (typeof name !== 'string' || typeof sql !== 'string' || typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || !isHash(root)) {
      throw new BlockError('MANIFEST_MISMATCH', '_tables has a malformed row')
    }
    out.push({ name, sql, rows: n, root })
  }
  return out
}

/** The cheap manifest checks: the same tables with the same DDL, and RowsRoot over `_tables`. */
function checkManifestShape (header: BlockHeader, userTables: UserTable[], claimed: TableEntry[]): void {
  const mismatch = (why: string, table?: string): BlockError => new BlockError('MANIFEST_MISMATCH', `_tables does not match the block content: ${why}`, { details: { table } })
  if (claimed.length !== userTables.length) throw mismatch(`${claimed.length} entries for ${userTables.length} tables`)
  const byName = new Map<string, TableEntry>()
  for (const t of claimed) byName.set(t.name, t)
  // A packed list of tables however this runs (emptyObjects and push; readTablesManifest says why).
  const ordered = emptyObjects<TableEntry>()
  for (const t of userTables) {
    const c = byName.get(t.name)
    if (c === undefined) throw mismatch(`table ${JSON.stringify(t.name)} is missing`, t.name)
    if (c.sql !== t.sql) throw mismatch(`DDL of ${JSON.stringify(t.name)} differs`, t.name)
    ordered.push(c)
  }
  if (rowsRootOf(ordered) !== header.rowsRoot) {
    throw new BlockError('ROWS_ROOT_MISMATCH', '_meta.RowsRoot is not the Merkle root of _tables')
  }
}
