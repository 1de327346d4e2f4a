import Database from 'better-sqlite3'
import { openSqliteReadonly } from './sqlite.js'
import { CHAIN_TREE_SCHEMA } from './chain-tree-table.js'
import { CHECKPOINT_SCHEMA } from './checkpoint-table.js'
import { indexOpenFailure } from './index-open-failure.js'
import { SCHEMA, SCHEMA_VERSION } from './index-records.js'
import { dataFileExists } from './data-file.js'
import { loadWalCheck } from './wal-index.js'
import { addHashKeyFunction, OlderVersionView } from './index-migrate.js'

/**
 * chain.db's connection as IndexDb.open makes it: read-only, or writable (then made, if new), and
 * for an index of an older schema version its views (OlderVersionView), which a writer's first write settles.
 */
export function openIndexConnection (path: string, options: { readonly?: boolean, wait?: boolean }): { db: Database.Database, olderView: OlderVersionView | undefined } {
  let db: Database.Database | undefined
  let olderView: OlderVersionView | undefined
  // SQLite would block for ever reading a named pipe, and follow a link anywhere.
  dataFileExists(path, 'chain index')
  try {
    db = options.readonly === true ? openSqliteReadonly(path) : new Database(path)
    // Before any write: SQLite's own checkpoints off, Petal's checked ones instead (wal-checkpoint.ts).
    if (options.readonly !== true) loadWalCheck(db)
    // A reader meets a lock only while a crashed writer's WAL is recovered; wait that out.
    // `wait: false` (a reader's quiet repair of a crashed write) never waits at all.
    db.pragma(`busy_timeout = ${options.wait === false ? 0 : 5000}`)
    if (options.readonly !== true) {
      db.pragma('synchronous = FULL')
      // Writes only to a new file, or once to an index from before the chain tree (its tables).
      if (db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'checkpoints'").get() === undefined) {
        db.pragma('journal_mode = WAL')
        // One transaction: killed between its statements, a file with the tables (which the
        // check above takes as made) but no schema version would be refused at every open.
        // An index from before the chain tree (its `blocks` there) gets those tables alone, and keeps
        // its version (1: the versions since write it at the file's making), which its first write moves.
        const made = db
        const older = made.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'blocks'").get() !== undefined
        made.transaction(() => {
          made.exec(older ? CHAIN_TREE_SCHEMA + CHECKPOINT_SCHEMA : SCHEMA)
          made.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('schema_version', older ? '1' : SCHEMA_VERSION)
        }).immediate()
      }
    }
    else if (db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'checkpoints'").get() === undefined) {
      // A read-only look at an index written before the chain tree existed: empty stand-ins
      // (in the connection's own temp schema) until a writer creates and fills the real ones.
      db.exec((CHAIN_TREE_SCHEMA + CHECKPOINT_SCHEMA).replaceAll('CREATE TABLE', 'CREATE TEMP TABLE').replace(/CREATE INDEX[^;]*;/g, ''))
    }
    addHashKeyFunction(db)
    const v = db.prepare<[], string>("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()
    // An older version (1 or 2): read as it is; a writer moves it at its first write (withWriteLock).
    // Not a reader's quiet repair (`wait: false`): its own read-only connection reads it.
    const older = v === '1' || v === '2'
    if (older && options.readonly !== true && options.wait === false) throw new Error(`schema version ${v}, left for a writer to move`)
    if (older) olderView = new OlderVersionView(db, v)
    else if (v !== SCHEMA_VERSION) throw new Error(`schema version ${v ?? 'missing'}`)
  } catch (err) {
    db?.close()
    throw indexOpenFailure(err, path)
  }
  return { db, olderView }
}
