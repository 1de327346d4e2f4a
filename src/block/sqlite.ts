import Database from 'better-sqlite3'
import { closeSync, existsSync, openSync, readSync } from 'node:fs'
import { errorCode, errorMessage, isPetalError, isRecord } from '../util/index.js'
import { BlockError } from './errors.js'
import { heldMmap, openHeld, releaseHeld, type Held } from './held-db.js'

export type Db = Database.Database

// Per connection: the virtual tables SQLite connected to an inert module (table → module name).
const connected = new WeakMap<Db, Map<string, string>>()
// The modules SQLite lists on a fresh connection: the same on every connection of this process
// (one SQLite library), so asked once; per-block queries open a connection per block.
let builtinModules: string[] | undefined

function moduleNames (db: Db): string[] {
  if (builtinModules === undefined) {
    // PRAGMA module_list, unlike a SELECT from pragma_module_list, does not make SQLite load the schema.
    const modules: unknown = db.pragma('module_list')
    builtinModules = (Array.isArray(modules) ? modules : []).flatMap(row => {
      const name = isRecord(row) ? row.name : undefined
      return typeof name === 'string' && !name.startsWith('pragma_') ? [name] : []
    })
  }
  return builtinModules
}

/**
 * Bind every virtual-table module SQLite lists (fts3/4/5, rtree, geopoly, dbstat, …) to an inert
 * one on this connection, before anything reads the schema: a virtual table a block declares —
 * which SQLite connects as soon as anything inspects it, `PRAGMA table_list` included — then runs
 * none of the module's code, cannot read or write its shadow tables, and yields no values that
 * change from read to read (fts5's hidden columns do). Reading such a table fails. Modules that
 * SQLite does not list (json_each, json_tree, the pragma_* tables) are pure functions of their
 * arguments and stay as they are. Idempotent.
 */
export function neutraliseModules (db: Db): void {
  if (connected.has(db)) return
  const seen = new Map<string, string>()
  connected.set(db, seen)
  // One factory serves every module: SQLite tells it which module and table it connects.
  const factory = function (this: { module: string, table: string }): { columns: string[], rows: () => Generator<never> } {
    const module = this.module
    seen.set(this.table, module)
    return {
      columns: ['disabled'],
      * rows (): Generator<never> { throw new BlockError('SCHEMA_NOT_ALLOWED', `virtual table module ${module} is disabled on block connections`) }
    }
  }
  for (const name of moduleNames(db)) {
    // db.table(name, factory) registers a module for CREATE VIRTUAL TABLE (replacing a built-in one
    // of that name); @types/better-sqlite3 only knows its eponymous (object) form.
    Reflect.apply(db.table, db, [name, factory])
  }
}

/** The module SQLite named when it connected virtual table `table` on `db` (see neutraliseModules). */
export function moduleOf (db: Db, table: string): string | undefined {
  return connected.get(db)?.get(table)
}

/**
 * SQLite's defensive settings for reading untrusted bytes: no schema-defined functions
 * (trusted_schema off), no writes even by accident (query_only), no memory mapping, and cell size
 * checks on every page read. For block files and for the connections user SQL runs on.
 */
export function hardenReadonly (db: Db): void {
  // One exec, not four pragma() calls: this runs for every block a per-block query opens.
  db.exec('PRAGMA trusted_schema = OFF; PRAGMA query_only = ON; PRAGMA mmap_size = 0; PRAGMA cell_size_check = ON')
}

/** How a block connection reads its file, beyond hardenReadonly's settings. */
export interface BlockConnectionOptions {
  /**
   * Read the file through a memory map of this many bytes (its size) instead of hardenReadonly's
   * `mmap_size = 0`. Only for a block file this process created itself, exclusively, under its
   * private name in the data directory's tmp/, wrote, closed and hashed before opening it (a
   * download: loadBlock's `ownDownload`). Why: quick_check reads every page, through 4 KiB
   * `pread`s a copy and a system call each (273 for a 1 MB block). Why only there: the hazard of a
   * map is a file truncated or rewritten under it by someone else (SIGBUS kills the process
   * instead of an error); nothing else writes a private tmp/ file while it is checked, and its
   * bytes are already hashed. SQLite maps it read-only (PROT_READ) and runs the same checks on the
   * mapped pages (cell_size_check stays on). A user's file, `verify`'s and queries' connections
   * never get it. A file smaller than MAP_MIN_BYTES is read without the map all the same.
   */
  mapOwnDownload?: number
  /**
   * The whole file as the caller read it (and hashed it) from the regular file it opened: SQLite
   * reads these bytes in place instead of the file (held-db.ts), when the addon is built; else the
   * file, as without this option. The caller keeps them alive and unchanged until it closes the
   * connection.
   */
  held?: Buffer
}

/**
 * The smallest own download read through a map (mapOwnDownload). Unmapping a file's pages is a
 * TLB shootdown: every other CPU that runs a thread of this process is interrupted and waited
 * for, and each page the map touches first is a fault. On session 27's 2-core VM that was 0.15 ms
 * of the load threads' CPU per 32 KiB catch-up block (perf, 10,000 blocks), more than the eight
 * 4 KiB `pread`s it replaced; in session 28's 1 MB pulls the ~260 `pread`s also cost the load
 * threads less than the map (its faults, `munmap` and first touches: 0.09-1.1 ms a block, mean
 * 0.48, lower in 5 of 5 pairs), and at 4 MB the two cost the same (docs/performance/pull.md, "Session
 * 28: the 1 MB pull").
 */
export const MAP_MIN_BYTES = 2 * 1024 * 1024

/** Open a block file read-only with the defensive settings (hardenReadonly), virtual-table modules neutralised. Close it with closeBlockDb. */
export function openBlockReadonly (path: string, o: BlockConnectionOptions = {}): Db {
  if (o.held !== undefined) {
    const bytes = o.held
    let held: Held | undefined
    try {
      // A fresh connection is hardened and neutralised once; the thread's kept one was when it was opened.
      held = openHeld(bytes, db => { hardenReadonly(db); neutraliseModules(db) })
      if (held !== undefined) {
        // Held bytes are read in place (memdb's xFetch): no page cache filled by copies. No map of the
        // file is made, so a map's hazard (the file truncated under it) does not arise.
        heldMmap(held.db, bytes.length)
        // The virtual tables a previous block's schema connected on the kept connection are not this block's.
        connected.get(held.db)?.clear()
        return held.db
      }
    } catch (err) {
      if (held !== undefined) releaseHeld(held.db, true)
      if (isEnvironmentFailure(err)) throw err
      throw sqliteFailure(err, path)
    }
  }
  let db: Db
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
  } catch (err) {
    if (isEnvironmentFailure(err)) throw err
    // better-sqlite3 refuses a path whose directory is gone with an uncoded TypeError, which
    // sqliteFailure would call CORRUPT: a verdict on the block (and its peers) for what is this
    // machine's state (a tmp/ removed under a running node while the block waited to be checked).
    if (errorCode(err) === undefined && !existsSync(path)) throw new BlockError('FILE_NOT_FOUND', `cannot open ${path}: ${errorMessage(err)}`)
    throw sqliteFailure(err, path)
  }
  try {
    hardenReadonly(db)
    const map = o.mapOwnDownload
    if (map !== undefined && Number.isSafeInteger(map) && map >= MAP_MIN_BYTES) db.exec(`PRAGMA mmap_size = ${map}`)
    neutraliseModules(db)
  } catch (err) {
    db.close()
    if (isEnvironmentFailure(err)) throw err
    throw sqliteFailure(err, path)
  }
  return db
}

/** Close a connection from openBlockReadonly: the thread's kept held connection waits for the next block instead (dropped if `failed`). */
export function closeBlockDb (db: Db, failed = false): void {
  releaseHeld(db, failed)
}

/** Open a block being built (a private temporary copy) for writing. */
export function openBlockForBuild (path: string): Db {
  const db = new Database(path, { fileMustExist: true })
  db.pragma('trusted_schema = OFF')
  // A foreign key in the user's schema must not make our writes to reserved tables fail.
  db.pragma('foreign_keys = OFF')
  neutraliseModules(db)
  return db
}

/**
 * Map an SQLite failure on an untrusted file to a coded error; a "malformed" file that node:fs
 * cannot read either is the disk's failure, returned as that errno's error (isEnvironmentFailure).
 */
export function sqliteFailure (err: unknown, path: string): BlockError | Error {
  const code = errorCode(err)
  const msg = errorMessage(err)
  if (code === 'SQLITE_CANTOPEN') return new BlockError('FILE_NOT_FOUND', `cannot open ${path}: ${msg}`)
  if (code === 'SQLITE_NOTADB') return new BlockError('NOT_SQLITE', `not an SQLite database: ${path}`)
  // SQLite reports a page read the disk failed (EIO) as SQLITE_CORRUPT (its unixRead returns
  // SQLITE_IOERR_CORRUPTFS, which its API exit makes SQLITE_CORRUPT): it was CORRUPT, "repair it
  // or fetch the block again from a peer", a verdict on the block (mend34, fault torture).
  const disk = code === 'SQLITE_CORRUPT' ? readFailure(path) : undefined
  if (disk !== undefined) return disk
  return new BlockError('CORRUPT', `SQLite could not read the block: ${msg}`, { details: { sqliteCode: code } })
}

/**
 * Run `read` (every check of one file, on its own connection) once more after its CORRUPT verdict,
 * and when that run passes, throw the disk's failure (readFailedOnce) instead of the verdict.
 * Why: SQLite reports a page read the disk failed (EIO) as a malformed file, and sqliteFailure's
 * second read through node:fs sees a disk that keeps failing, not one that failed once (a
 * transient fault; mend34's "left"): such a block was CORRUPT, "repair it (sqlite3 .recover), or
 * fetch the block again from a peer" (import, a node's download, adopt-daisy). The verdict is a
 * function of the file's bytes alone, so the same checks run again on them give it again; only a
 * failed read can make them pass the second time. A file that is really malformed is checked twice.
 */
export async function againIfCorrupt<T> (path: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (err) {
    if (!(err instanceof BlockError) || err.code !== 'CORRUPT') throw err
    await read()
    throw readFailedOnce(path, err)
  }
}

/**
 * The disk's failure behind an SQLite failure on `path` (a file that is not a block: daisy.db), or
 * undefined when it is SQLite's verdict on the file: an I/O error or a full disk as itself; a file
 * SQLite calls malformed that node:fs cannot read either (sqliteFailure), or that passes `again`
 * (the failed statements on a new connection) the second time, as readFailedOnce's EIO.
 */
export function diskFailureOf (err: unknown, path: string, again: () => void): Error | undefined {
  const code = errorCode(err) ?? ''
  if (/^E[A-Z]+$/.test(code) || code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR')) return err instanceof Error ? err : undefined
  if (code !== 'SQLITE_CORRUPT') return undefined
  const f = sqliteFailure(err, path)
  if (!(f instanceof BlockError)) return f
  try { again() } catch { return undefined }
  return readFailedOnce(path, err)
}

/**
 * The errno error (EIO, so the machine's failure: isEnvironmentFailure, IO_ERROR by the CLI) of a
 * file SQLite called malformed that read, and was found sound, the next time.
 */
export function readFailedOnce (path: string, first: unknown): Error {
  const msg = `EIO: i/o error, read '${path}' (a read the disk failed once: SQLite called the file malformed, "${errorMessage(first)}", and the same reads on a new connection passed)`
  return Object.assign(new Error(msg), { code: 'EIO', errno: -5, syscall: 'read', path })
}

/** The errno error (EIO …) reading `path` through to its end, or undefined when it reads (or is gone). */
function readFailure (path: string): Error | undefined {
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const buf = Buffer.allocUnsafe(1 << 20)
    while (readSync(fd, buf, 0, buf.length, null) > 0);
    return undefined
  } catch (e) {
    return errorCode(e) !== 'ENOENT' && isEnvironmentFailure(e) && e instanceof Error ? Object.assign(e, { path, message: `${e.message} '${path}'` }) : undefined
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * Whether a failure is this machine's (a full disk, a failing disk, memory, permissions, a lock),
 * not the block's: it must never become a verdict on the block, nor a peer's fault.
 */
export function isEnvironmentFailure (err: unknown): boolean {
  const code = errorCode(err)
  if (code === undefined) return false
  if (/^E[A-Z]+$/.test(code)) return true // an errno from the file system
  return ['SQLITE_FULL', 'SQLITE_NOMEM', 'SQLITE_LOCKED', 'SQLITE_PERM', 'SQLITE_INTERRUPT', 'SQLITE_NOLFS'].includes(code) ||
    ['SQLITE_IOERR', 'SQLITE_BUSY', 'SQLITE_READONLY'].some(p => code === p || code.startsWith(p + '_'))
}

/**
 * Run `fn` and convert any SQLite exception into a BlockError (CORRUPT unless more specific).
 * Petal's own errors pass unchanged: an interruption (ABORTED) is not a verdict on the block;
 * nor are failures of this machine (isEnvironmentFailure), which pass unchanged to be reported
 * as what they are.
 */
export function guardSqlite<T> (path: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (isPetalError(err) || isEnvironmentFailure(err)) throw err
    throw sqliteFailure(err, path)
  }
}

/** Quote an SQL identifier. */
export function quoteIdent (name: string): string {
  return '"' + name.replaceAll('"', '""') + '"'
}
