import { commitWal, dataFileExists, loadWalCheck, openRefusedByDisk, openSqlite, systemFailure, type SqliteStatement } from '../storage/index.js'
import { errorCode } from '../util/index.js'
import { IngestError } from './errors.js'
import { LOOK_PENDING } from './pending-schema.js'
import type { TableSchema } from './schema.js'
import { PendingStore } from './store.js'

/**
 * A second connection to pending.db, used only for appends (the group commit's transactions).
 * It waits for no lock inside SQLite: its busy timeout is 0, so `BEGIN IMMEDIATE` fails at once
 * while another process holds the write lock, and PendingStore.write() retries it from a timer,
 * never blocking the event loop. The main connection keeps its 5 s busy timeout for reads (which
 * may have to wait through another process's WAL recovery) and sets 0 around its own `BEGIN
 * IMMEDIATE` with two pragmas; appends, the one write made per request, no longer pay those.
 *
 * Everything this connection reads outside a write transaction, after its open (which reads the
 * instance id at the default busy timeout), goes to the main connection (the tables before the
 * first append). At a busy timeout of 0 remain `BEGIN IMMEDIATE`, which is retried, and the
 * `synchronous` pragmas around a deferred commit, which read the schema only when it is not
 * loaded: the first is refused like a commit that failed, the second fails the store (restoreFull).
 */
export class AppendStore extends PendingStore {
  /** appendAlone's INSERT: the row, if the tables are still those of `schema_version` = the last parameter. */
  private aloneStmt: SqliteStatement | undefined

  private constructor (db: PendingStore['db'], private readonly main: PendingStore) {
    super(db, main.path, false, main.instance)
  }

  /** The append connection for `main`'s file; `main` itself when it is read-only (no appends then). */
  static of (main: PendingStore): PendingStore {
    if (main.readonly) return main
    // As PendingStore.open(): a named pipe there would block the open for ever, a link point anywhere.
    const exists = dataFileExists(main.path, 'pending store')
    let db: PendingStore['db'] | undefined
    try {
      db = exists ? openAppendDb(main.path) : undefined
      // The same file as `main`'s, not one put in its place since (appends would go to another store).
      const instance = (db?.prepare("SELECT value FROM meta WHERE key = 'instance'").get() as { value: string } | undefined)?.value
      if (db === undefined || instance !== main.instance) {
        throw new IngestError('INGEST_STORE_UNAVAILABLE', `the pending store ${main.path} was replaced or removed while it was being opened`, {
          hint: 'another process moved pending.db: put back the file that holds the acknowledged rows (do not delete either), then run the command again'
        })
      }
      db.pragma('busy_timeout = 0')
      // SQLite retries a read-write open of the file or its log that the disk refused (a full or
      // failing disk, once) read-only, silently (unixOpen), and keeps that descriptor for the
      // connection's life: every append would then fail "readonly database" until a restart
      // (the fault torture, session 35). Open once more; a second refusal is the error.
      if (!writesNow(db, false)) {
        db.close()
        db = undefined
        db = openAppendDb(main.path)
        db.pragma('busy_timeout = 0')
        writesNow(db, true)
      }
      return new AppendStore(db, main)
    } catch (err) {
      db?.close()
      if (err instanceof IngestError) throw err
      // Refused twice by a disk this user may write (full, failing): the disk's error, IO_ERROR, as
      // the main connection's open says it; it was INGEST_STORE_UNAVAILABLE "readonly database"
      // (the fault torture, session 50, seed 5092: ENOSPC at every open of the log from the second).
      const code = errorCode(err) ?? ''
      const disk = code.startsWith('SQLITE_READONLY') || code === 'SQLITE_CANTOPEN' ? openRefusedByDisk(main.path, err) : undefined
      if (disk !== undefined) throw disk
      throw new IngestError('INGEST_STORE_UNAVAILABLE', `cannot open the pending store ${main.path}: ${(err as Error).message}`, {
        // The main connection to the same file just opened: a limit of this process or machine, not a damaged file.
        hint: `pending.db holds acknowledged rows that are not in a block yet: do not delete it; ${systemFailure(err)?.hint ?? 'check that this user may read and write the data directory and that this process may open more files (`ulimit -n`), then run the command again'}`,
        cause: err
      })
    }
  }

  /** BEGIN IMMEDIATE at this connection's busy timeout of 0: no pragmas around it. */
  protected override tryBegin (): boolean {
    if (this.db.inTransaction) throw new Error('pending store: nested write transaction')
    try {
      this.stmt('BEGIN IMMEDIATE').run()
      return true
    } catch (err) {
      // SQLITE_BUSY, or an extended form of it (another connection's WAL recovery): try again later.
      if (((err as { code?: string }).code ?? '').startsWith('SQLITE_BUSY')) return false
      throw err
    }
  }

  /**
   * A lone row for a table as this connection last read it (`sql` is the table's DDL the row was
   * encoded for), appended and committed by one autocommit INSERT instead of BEGIN IMMEDIATE, the
   * table check, the INSERT and COMMIT (docs/performance/ingest.md, "Session 20: ingest"). The table check
   * is the INSERT's own WHERE: the row goes in only while `schema_version` is the one the cached
   * tables were read at, the check `tables()` makes in a transaction, so a table another writer
   * changed meanwhile stores nothing (no change: undefined). The commit is the statement's end, at
   * synchronous=FULL like any lone commit: on disk when `run` returns. Undefined also when another
   * process holds the write lock (busy timeout 0: nothing was written) or this connection no longer
   * writes (`failed`): the caller then takes the transaction's way, which waits, re-reads, refuses.
   */
  override appendAlone (table: string, sql: string, data: Buffer, at: number): { name: string, first: number } | undefined {
    const cache = this.tableCache
    const t = cache?.tables.get(table.toLowerCase())
    if (cache === undefined || t === undefined || t.sql !== sql || this.failed !== undefined || this.db.inTransaction) return undefined
    this.aloneStmt ??= this.db.prepare("INSERT INTO rows (tbl, data, bytes, at) SELECT ?, ?, ?, ? WHERE (SELECT value FROM meta WHERE key = 'schema_version') = ?")
    let r: { changes: number, lastInsertRowid: number | bigint }
    try {
      const st = this.aloneStmt
      // The statement's end is its COMMIT: one whose fsync failed is undone for good (commitWal).
      r = commitWal(this.db, () => st.run(t.name, data, data.length, at, cache.version), LOOK_PENDING)
    } catch (err) {
      // A failed commit is rolled back by SQLite; an open transaction left here would hold the lock.
      if (this.db.inTransaction) this.db.exec('ROLLBACK')
      if (((err as { code?: string }).code ?? '').startsWith('SQLITE_BUSY')) return undefined
      throw err
    }
    return r.changes === 1 ? { name: t.name, first: Number(r.lastInsertRowid) } : undefined
  }

  /** The tables as this connection last read them in a transaction, else as the main connection has them. */
  override cachedTables (): Map<string, TableSchema> {
    return this.tableCache?.tables ?? this.main.cachedTables()
  }
}

/**
 * A connection to pending.db for appends, opened at the default busy timeout: `synchronous` reads
 * the schema, which may wait through another process's WAL recovery as every read does.
 */
function openAppendDb (path: string): PendingStore['db'] {
  const db = openSqlite(path)
  try {
    loadWalCheck(db)
    db.pragma('synchronous = FULL')
  } catch (err) {
    db.close()
    throw err
  }
  return db
}

/**
 * Whether `db` can begin a write transaction (begun and rolled back, nothing written): false when
 * SQLite opened the file or its log read-only, or with `orThrow` that error. Another process
 * holding the write lock (SQLITE_BUSY at a busy timeout of 0) says nothing either way: taken as yes.
 */
function writesNow (db: PendingStore['db'], orThrow: boolean): boolean {
  try {
    db.exec('BEGIN IMMEDIATE')
  } catch (err) {
    const code = errorCode(err) ?? ''
    if (code.startsWith('SQLITE_BUSY')) return true
    if (code.startsWith('SQLITE_READONLY') && !orThrow) return false
    throw err
  }
  db.exec('ROLLBACK')
  return true
}
