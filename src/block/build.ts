import { chmod, chmodSync, closeSync, copyFile, copyFileSync, constants as fsConstants, fdatasync, openSync, stat, statSync, type Stats } from 'node:fs'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { sha256File, sha256FileSync, type SigningKey } from '../crypto/index.js'
import { errorCode, pausepointSync, throwIfAborted, type WorkMeter } from '../util/index.js'
import { encryptColumns, type EncryptSpec, type RewrapSpec } from './confidential.js'
import { KEYS_DDL, META_DDL, TABLES_DDL } from './constants.js'
import { BlockError, checkRegularInput } from './errors.js'
import { headerToMeta, type BlockHeader, type DaisyCommitment, type GenesisParams } from './header.js'
import { readKeyOps, type KeyOpRow } from './keyops.js'
import type { Manifest } from './manifest.js'
import { computeManifestParallel, countRows, type TableRootPool } from './parallel-roots.js'
import { inspectSchema, type UserTable } from './schema.js'
import { checkSqliteFile } from './sqlite-header.js'
import { signPrevious, signSeal } from './signing.js'
import { guardSqlite, MAP_MIN_BYTES, openBlockForBuild, type Db } from './sqlite.js'

export interface BuildBlockOptions {
  /** The user's SQLite file; it is copied, never modified. Omit for a block without user tables. */
  source?: string
  /** Path of the new block file (a private temporary path that must not exist yet). */
  output: string
  key: SigningKey
  /** Genesis hash of the chain ('' when building a genesis). */
  chainId: string
  height: number
  previousHash: string
  /** RFC 3339 UTC */
  timestamp: string
  creatorName?: string
  description?: string
  genesis?: GenesisParams
  /** With `genesis`: the Daisy chain this one continues (petal adopt-daisy). */
  daisy?: DaisyCommitment
  /** Endorsements to write into `_keys`, in addition to any rows the source already has. */
  keyOps?: KeyOpRow[]
  /** Drop the source's own `_keys` rows and write only `keyOps` (re-sealing an orphaned block). */
  replaceKeyOps?: boolean
  maxBytes: number
  /**
   * Page size of a block without user tables (default 1024): the seven pages of its reserved
   * tables and their indexes then take 7 KiB, where 4096-byte pages took 28 KiB. 512 would be
   * smaller still, but every `_keys` index entry would spill onto an overflow page.
   */
  pageSize?: number
  /** Refuse (EMPTY_BLOCK) a block that would hold no user table and no key operation. */
  refuseEmpty?: boolean
  /** Encrypt these columns of the source for these recipients (docs/confidential.md). */
  encrypt?: EncryptSpec
  /** Wrap earlier blocks' data keys for more recipients, in this block's `_recipients`. */
  rewrap?: RewrapSpec[]
  /** Worker threads for hashing large tables (the caller owns it); without one, rows are hashed on this thread. */
  pool?: TableRootPool
  signal?: AbortSignal
  /** Counts the work: four passes over the source's size (BUILD_PASSES): copying, checking, hashing rows, hashing the block. */
  meter?: WorkMeter
}

// node:fs's callback API, not node:fs/promises: building a block never loads that module (with
// its readline and watcher internals, ~70 fresh pages per process; docs/performance.md, session 11).
// Promisified at first use (a source over SYNC_FILE_MAX_BYTES): a small build then never runs
// node:util's promisify (compiled at its first call; docs/performance/import.md, "Session 25: the
// 100-row import").
let copyFileAsync: ((src: string, dest: string, mode: number) => Promise<void>) | undefined
let chmodAsync: ((path: string, mode: number) => Promise<void>) | undefined
let statAsync: ((path: string) => Promise<Stats>) | undefined

/**
 * A source (and block) up to this size is copied, checked and hashed with node:fs's synchronous
 * calls: a copy or read of a few pages from the page cache takes less than a thread-pool round trip,
 * and a process that builds one small block (a 100-row signimportblock) then never compiles Node's
 * promisified callback functions (~1.3 M instructions; docs/performance/import.md, "Session 22: the 100-row
 * import"). Larger files keep the event loop free while the thread pool copies and reads them.
 */
const SYNC_FILE_MAX_BYTES = 256 * 1024

/** How many times buildBlock goes over (about) the source's size, for a progress total. */
export const BUILD_PASSES = 4

export interface BuiltBlock {
  path: string
  hash: string
  /** hex DER seal over the block hash */
  seal: string
  header: BlockHeader
  manifest: Manifest
}

/**
 * Build and seal a v2 block: copy the source, write `_keys`, `_tables` and `_meta`, close, hash,
 * seal. The result still has to pass the chain's validation before it is imported.
 */
export async function buildBlock (o: BuildBlockOptions): Promise<BuiltBlock> {
  // Nothing opens the input before it is known to be a regular file (a pipe would read as an
  // empty database, or block). Then sidecars: a hot journal explains a bad header better.
  if (o.source !== undefined) checkRegularInput(o.source)
  if (o.source !== undefined) refuseSidecars(o.source)
  // A 0-byte input is a valid empty database (SQLite opens it as one): a block with no user tables.
  const size = o.source === undefined ? 0 : (await checkSqliteFile(o.source, o.maxBytes, { input: true })).size
  const m = o.meter
  m?.stage('copying', size)
  if (o.source !== undefined && size > 0) {
    // The copy keeps the source's mode: nobody but this user may write it (a source writable by
    // its group or by all would let them change the block between its hash and its import, which
    // signimportblock does not hash again), and this user may (a read-only source).
    if (size <= SYNC_FILE_MAX_BYTES) {
      copyFileSync(o.source, o.output, fsConstants.COPYFILE_EXCL)
      chmodSync(o.output, (statSync(o.output).mode & 0o644) | 0o600)
    } else {
      await (copyFileAsync ??= promisify(copyFile))(o.source, o.output, fsConstants.COPYFILE_EXCL)
      await (chmodAsync ??= promisify(chmod))(o.output, ((await (statAsync ??= promisify(stat))(o.output)).mode & 0o644) | 0o600)
    }
  } else {
    const fresh = new Database(o.output)
    fresh.pragma(`page_size = ${o.pageSize ?? SMALL_PAGE_SIZE}`)
    fresh.exec('VACUUM')
    fresh.close()
  }
  // The copy's pages go to disk while it is checked and its rows hashed (libuv's thread pool):
  // placement's fsync, the one durability relies on, then has only the pages written since.
  const flushing = size >= EARLY_FLUSH_BYTES ? flushEarly(o.output) : undefined
  flushing?.catch(() => {}) // awaited below; a build that fails first discards the file anyway
  try {
    const built = await finishBuild(o, size)
    // A write error reported here must fail the build: once this flush has seen it, a later
    // fsync on another descriptor may not report it again.
    await flushing
    return built
  } catch (err) {
    await flushing?.catch(() => {})
    throw err
  }
}

/** Sources at least this large are flushed early (a small one's flush would only add a disk commit). */
const EARLY_FLUSH_BYTES = 4 << 20

async function flushEarly (path: string): Promise<void> {
  // Read-only: a flush needs no more, and must not be what refuses a file. Opened on this thread
  // (microseconds) so that the flush is queued at once: an asynchronous open's callback waited for
  // this thread, which goes straight into quick_check, and the flush started only after it
  // (docs/performance/manifest.md, "Session 31: signimportblock").
  const fd = openSync(path, 'r')
  try {
    await new Promise<void>((resolve, reject) => { fdatasync(fd, err => { if (err === null) resolve(); else reject(err) }) })
  } catch (err) {
    // A system that does not flush through a read-only descriptor says so with one of these; they
    // are not write errors (which must propagate), and placement's fsync still runs.
    if (['EBADF', 'EPERM', 'EACCES', 'EINVAL'].includes(errorCode(err) ?? '')) return
    throw err
  } finally {
    closeSync(fd)
  }
}

async function finishBuild (o: BuildBlockOptions, size: number): Promise<BuiltBlock> {
  const m = o.meter
  throwIfAborted(o.signal)
  const db = openBlockForBuild(o.output)
  let header: BlockHeader
  let manifest: Manifest
  try {
    m?.stage('checking', size)
    let rows = 0
    let hashed = 0
    let counting = false
    const onRows = m === undefined ? undefined : (n: number): void => { hashed += n; if (counting) m.fraction(rows === 0 ? 1 : hashed / rows) }
    const early = startManifest(db, o, onRows)
    let input: ReturnType<typeof checkInput>
    try {
      input = guardSqlite(o.source ?? o.output, () => checkInput(db, o, size))
    } catch (err) {
      await early?.manifest // the threads are done with the file before it is discarded
      throw err
    }
    // Before the manifest: the Merkle leaves commit to the ciphertext. Without columns to encrypt
    // or keys to rewrap, no transaction (an empty one cost a 100-row import ~0.4 M instructions).
    if (o.encrypt !== undefined || (o.rewrap ?? []).length > 0) db.transaction(() => { encryptColumns(db, o.chainId, input.userTables, o.encrypt, o.rewrap) })()
    m?.stage('hashing rows', size)
    // Rows are counted first only when someone watches the progress.
    rows = m === undefined ? 0 : input.userTables.reduce((n, t) => n + countRows(db, t), 0)
    counting = true
    m?.fraction(rows === 0 ? 1 : hashed / rows)
    // The manifest covers user tables only, which the writes below do not touch.
    const settled = await early?.manifest
    const started = early !== undefined && sameTables(early.tables, input.userTables) ? settled : undefined
    if (started === undefined) hashed = 0
    manifest = started ?? await computeManifestParallel(o.output, db, input.userTables, o.pool, o.signal, onRows)
    header = guardSqlite(o.source ?? o.output, () => writeReserved(db, o, input.keyOps, manifest))
    if (input.userTables.length === 0) compactReserved(db, o.pageSize ?? SMALL_PAGE_SIZE)
  } finally {
    db.close()
  }
  const built = await checkSqliteFile(o.output, o.maxBytes)
  m?.stage('hashing', built.size)
  const onBytes = (n: number): void => { m?.add(n) }
  const hash = built.size <= SYNC_FILE_MAX_BYTES ? sha256FileSync(o.output, onBytes) : await sha256File(o.output, { signal: o.signal, onBytes })
  return { path: o.output, hash, seal: signSeal(o.key, header, hash), header, manifest }
}

/**
 * The manifest, started before quick_check so the table-hashing threads hash rows while this
 * thread checks the file (quick_check costs about what a scan of the rows does). Only when there
 * are such threads and nothing is encrypted (encryption rewrites rows before they are hashed).
 * Its result counts only if quick_check then passes and finds the same user tables; until then
 * the file is only read: the b-tree walker refuses (and the SQLite path reports) anything
 * inconsistent, and any failure here just means computing the manifest again after the checks.
 */
function startManifest (db: Db, o: BuildBlockOptions, onRows?: (n: number) => void): { tables: UserTable[], manifest: Promise<Manifest | undefined> } | undefined {
  if (o.pool === undefined || o.encrypt !== undefined || o.source === undefined) return undefined
  let tables: UserTable[]
  try {
    tables = inspectSchema(db, 'input').userTables
  } catch {
    return undefined
  }
  if (tables.length === 0) return undefined
  const manifest = computeManifestParallel(o.output, db, tables, o.pool, o.signal, onRows).catch(() => undefined)
  return { tables, manifest }
}

function sameTables (a: readonly UserTable[], b: readonly UserTable[]): boolean {
  return a.length === b.length && a.every((t, i) => t.name === b[i]?.name && t.sql === b[i]?.sql)
}

function refuseSidecars (source: string): void {
  for (const [suffix, code, why, hint] of [
    ['-wal', 'WAL_MODE', 'has a -wal file with data not yet in the database', "checkpoint it first: sqlite3 FILE 'PRAGMA wal_checkpoint(TRUNCATE)'"],
    ['-journal', 'CORRUPT', 'has a hot -journal (it was not closed cleanly)', "let SQLite roll the journal back by reading the file once: sqlite3 FILE 'SELECT count(*) FROM sqlite_schema'"]
  ] as const) {
    // Synchronous, and without an exception for the usual absent file (a stat's time; an Error
    // and a rejected promise cost more than that).
    if ((statSync(source + suffix, { throwIfNoEntry: false })?.size ?? 0) > 0) throw new BlockError(code, `${source} ${why}`, { hint })
  }
}

/**
 * quick_check of the copy (`size` bytes), then the schema and key operations. A copy of at least
 * MAP_MIN_BYTES is checked through a memory map of its size, unmapped before anything is written:
 * SQLite's 4 KiB `pread`s (each a system call and a copy into its page cache, every page read about
 * twice by the check) cost a 20 MiB copy ~3× the map's CPU (docs/performance/manifest.md, "Session 31:
 * signimportblock"). Safe for the reason a received block's map is (sqlite.ts, mapOwnDownload):
 * the hazard of a map is its file truncated or rewritten by someone else (SIGBUS, not an error),
 * and this is the build's own private copy (`output`, created exclusively); the user's file is
 * never mapped. SQLite runs the same checks on the mapped pages.
 */
function checkInput (db: Db, o: BuildBlockOptions, size: number): { userTables: UserTable[], keyOps: KeyOpRow[] } {
  // The copy is private until it is hashed; durability comes from the fsync at placement.
  db.pragma('journal_mode = MEMORY')
  db.pragma('synchronous = OFF')
  const map = o.source !== undefined && size >= MAP_MIN_BYTES
  if (map) db.pragma(`mmap_size = ${size}`)
  let check: unknown
  try {
    check = db.pragma('quick_check(1)', { simple: true })
    if (o.source !== undefined) pausepointSync('build:checked')
  } finally {
    if (map) db.pragma('mmap_size = 0')
  }
  if (check !== 'ok') throw new BlockError('CORRUPT', `the input database fails quick_check: ${String(check)}`, { hint: 'recover its content into a new file and seal that one: sqlite3 FILE .recover | sqlite3 recovered.db' })
  const schema = inspectSchema(db, 'input')
  const existing = schema.has.keys && o.replaceKeyOps !== true ? readKeyOps(db) : []
  const keyOps = [...existing, ...(o.keyOps ?? [])]
  if (o.refuseEmpty === true && schema.userTables.length === 0 && keyOps.length === 0 && (o.rewrap ?? []).length === 0) {
    throw new BlockError('EMPTY_BLOCK', `the block would hold no tables and no key operations${o.source === undefined ? '' : ` (${o.source} has no tables)`}`, {
      hint: 'check that this is the file you meant; to seal an empty block on purpose, add --allow-empty'
    })
  }
  const seen = new Set<string>()
  for (const k of keyOps) {
    const id = `${k.keyId}/${k.signer}`
    if (seen.has(id)) throw new BlockError('KEYOP_DUPLICATE_SIGNER', `two endorsements of ${k.keyId} by ${k.signer}`, { hint: 'give each endorsement once', details: { key: k.keyId, signer: k.signer } })
    seen.add(id)
  }
  return { userTables: schema.userTables, keyOps }
}

/** Default page size of a block without user tables (see BuildBlockOptions.pageSize). */
const SMALL_PAGE_SIZE = 1024

/**
 * A block with no user tables copied from a source keeps the source's page size and the pages
 * its old reserved tables freed: rewrite it at the small page size. Only without user tables:
 * VACUUM may renumber the rowids of a user table that has no INTEGER PRIMARY KEY.
 */
function compactReserved (db: Db, pageSize: number): void {
  if (db.pragma('page_size', { simple: true }) === pageSize && db.pragma('freelist_count', { simple: true }) === 0) return
  db.pragma(`page_size = ${pageSize}`)
  db.exec('VACUUM')
}

function writeReserved (db: Db, o: BuildBlockOptions, keyOps: KeyOpRow[], manifest: Manifest): BlockHeader {
  let header!: BlockHeader
  db.transaction(() => {
    db.exec('DROP TABLE IF EXISTS _meta; DROP TABLE IF EXISTS _keys; DROP TABLE IF EXISTS _tables')
    db.exec(`${META_DDL}; ${KEYS_DDL}; ${TABLES_DDL}`)
    const insKey = db.prepare('INSERT INTO _keys (op, pubkey_hash, pubkey, sigkey_hash, signature, metadata) VALUES (?, ?, ?, ?, ?, ?)')
    for (const k of keyOps) insKey.run(k.op, k.keyId, k.publicKey.hex, k.signer, k.signature, k.metadata === null ? null : JSON.stringify(k.metadata))
    const insTable = db.prepare('INSERT INTO _tables (name, sql, rows, root) VALUES (?, ?, ?, ?)')
    for (const t of manifest.tables) insTable.run(t.name, t.sql, t.rows, t.root)
    header = {
      version: 2,
      chainId: o.chainId,
      height: o.height,
      previousHash: o.previousHash,
      previousHashSignature: signPrevious(o.key, o.chainId, o.height, o.previousHash),
      creator: o.key.id,
      timestamp: o.timestamp,
      time: Date.parse(o.timestamp),
      rowsRoot: manifest.rowsRoot,
      creatorName: o.creatorName,
      description: o.description,
      genesis: o.genesis,
      ...(o.genesis !== undefined && o.daisy !== undefined ? { daisy: o.daisy } : {})
    }
    const insMeta = db.prepare('INSERT INTO _meta (key, value) VALUES (?, ?)')
    for (const [k, v] of headerToMeta(header)) insMeta.run(k, v)
  })()
  return header
}
