import { openSqlite } from '../storage/index.js'
import { IngestError } from './errors.js'
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
 * Everything this connection reads outside a write transaction goes to the main connection
 * (the instance id at open, the tables before the first append), so nothing here waits at a busy
 * timeout of 0 except `BEGIN IMMEDIATE`, which is retried.
 */
export class AppendStore extends PendingStore {
  private constructor (db: PendingStore['db'], private readonly main: PendingStore) {
    super(db, main.path, false, main.instance)
  }

  /** The append connection for `main`'s file; `main` itself when it is read-only (no appends then). */
  static of (main: PendingStore): PendingStore {
    if (main.readonly) return main
    let db: PendingStore['db'] | undefined
    try {
      // Opened at the default busy timeout: `synchronous` reads the schema, which may wait through
      // another process's WAL recovery as every read does. 0 once nothing but writes remains.
      db = openSqlite(main.path)
      db.pragma('synchronous = FULL')
      db.pragma('busy_timeout = 0')
      return new AppendStore(db, main)
    } catch (err) {
      db?.close()
      throw new IngestError('INGEST_STORE_UNAVAILABLE', `cannot open the pending store ${main.path}: ${(err as Error).message}`, {
        hint: 'pending.db holds acknowledged rows that are not in a block yet: do not delete it; restore it from a backup, or ask for help with the file kept',
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

  /** The tables as this connection last read them in a transaction, else as the main connection has them. */
  override cachedTables (): Map<string, TableSchema> {
    return this.tableCache?.tables ?? this.main.cachedTables()
  }
}
