import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { dataFileExists, loadWalCheck, NodeLock, openRefusedByDisk, openSqlite, openSqliteReadonly, StorageError, systemFailure, writeRefusal, type SqliteDb } from '../storage/index.js'
import { errorCode, lockHolders, processStopped, resumeAdvice } from '../util/index.js'
import { IngestError } from './errors.js'
import { LAYOUT, RECORD_ROWS_COLUMN, SCHEMA } from './pending-schema.js'
import { newInstanceId } from './receipt-id.js'
import { SEAL_LOCK_FILE } from './seal-lock.js'

/** pending.db's connection, created with its schema if needed and brought to this Petal's layout (PendingStore.open). */
export function openPendingDb (path: string, readonly: boolean, resealsSince?: number): SqliteDb {
  // Before SQLite opens it: a named pipe there would block the open for ever, a link point anywhere.
  const exists = dataFileExists(path, 'pending store')
  let db: SqliteDb | undefined
  try {
    if (readonly) {
      db = exists ? openSqliteReadonly(path) : openSqlite(':memory:')
      // A store that does not exist yet, or whose creation was cut short (no schema committed),
      // holds nothing: read it as an empty one.
      if (db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'rows'").get() === undefined) {
        db.close()
        db = openSqlite(':memory:')
        db.exec(SCHEMA)
      }
    } else {
      db = openSqlite(path)
      // Before any write: SQLite's own checkpoints off, Petal's checked ones instead (storage's wal-checkpoint.ts).
      loadWalCheck(db)
      db.pragma('busy_timeout = 5000')
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = FULL')
      db.exec(SCHEMA)
      db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('layout', LAYOUT)
      db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('instance', newInstanceId())
      db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('schema_version', '0')
      db.exec('DROP INDEX IF EXISTS rows_pending') // an index of the first layout, replaced by `low`
      db.prepare("INSERT OR IGNORE INTO meta (key, value) SELECT 'low', coalesce(min(id), 1) FROM rows WHERE batch IS NULL").run()
      // From this height on every re-seal this node makes is in `reseals` (reseal-record.ts).
      if (resealsSince !== undefined) db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('reseals_since', ?)").run(String(resealsSince))
      upgradeLayout(db, path)
    }
    db.pragma('busy_timeout = 5000')
    checkLayout(db, path, readonly)
    // Only in a store of this layout (a newer Petal's is refused above, untouched).
    if (!readonly) releaseStranded(db)
    if (readonly) readOldRecords(db)
  } catch (err) {
    if (db?.open === true) db.close()
    throw pendingStoreFailure(path, err, 'open')
  }
  return db
}

/** pending.db and, where there, its log and shared memory: SQLite opens any it may not write read-only. */
function storeFiles (path: string): Array<[string, string]> {
  const parts: Array<[string, string]> = [[`${path}-wal`, 'the pending store\'s log'], [`${path}-shm`, 'the pending store\'s shared memory']]
  return [[path, 'the pending store'], ...parts.filter(([f]) => existsSync(f))]
}

/**
 * What a failure of SQLite on pending.db at `path` is (an IngestError or StorageError passes as it
 * is): the disk's (IO_ERROR, DISK_FULL), no write access, or a damaged store, whose rows must be
 * kept. `doing`: the open, or a read after it (`petal status`: a page damaged past the schema is
 * only met there, review49).
 */
export function pendingStoreFailure (path: string, err: unknown, doing: 'open' | 'read'): Error {
  if (err instanceof IngestError || err instanceof StorageError) return err
  const code = (err as { code?: string }).code ?? ''
  const readonlyDir = code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'SQLITE_CANTOPEN'
  // pending.db or its log another user's command left (a `sudo petal append`), in a directory this
  // user may write: named, with the command that gives it back, as the seal's other files are
  // (storage/write-access.ts). It said the data directory needs write access, which it had
  // (review56); and once pending.db was given back, its log root's still, the disk (review57).
  const denied = readonlyDir ? storeFiles(path).map(([p, what]) => writeRefusal(p, what)).find(e => e !== undefined) : undefined
  if (denied !== undefined) return denied
  // The disk failing under the open (a -shm or -wal write's EIO, ENOSPC) is IO_ERROR/DISK_FULL,
  // not a damaged pending.db to restore from a backup (found by the fault torture, session 33).
  const disk = readonlyDir ? openRefusedByDisk(path, err) : code.startsWith('SQLITE_IOERR') || code === 'SQLITE_FULL' ? systemFailure(err) : undefined
  if (disk !== undefined) return setUpFailure(disk, path)
  // Its write lock held past the busy wait (an open writes its meta rows): busy, not damaged. It
  // said "restore it from a backup", which loses the rows acknowledged since that backup (review50).
  if (code.startsWith('SQLITE_BUSY')) {
    return new IngestError('INGEST_STORE_UNAVAILABLE', `cannot ${doing} the pending store ${path}: another process kept it locked for longer than this one waits (${(err as Error).message})`, {
      hint: 'nothing is wrong with pending.db: another process (a node, petal append or petal seal) was writing to it; run the command again (do not delete or replace the file: it holds acknowledged rows)',
      cause: err
    })
  }
  return new IngestError('INGEST_STORE_UNAVAILABLE', `cannot ${doing} the pending store ${path}: ${(err as Error).message}`, {
    hint: readonlyDir
      ? 'writing records needs write access to the data directory: run as a user who can write there'
      : 'pending.db holds acknowledged rows that are not in a block yet: do not delete it; restore it from a backup, or ask for help with the file kept',
    cause: err
  })
}

/**
 * A set-up statement's COMMIT whose fsync failed: systemFailure's hint ("the change may still be
 * recorded … look (`petal status`)") is for a change the user made, which status does not even
 * show for pending.db. Here the change is only the store's tables and its first meta rows (an
 * upgrade's layout), each statement idempotent and run again at every open for writing: whether
 * the failed commit comes back or not, the next open is the same, and no record is at stake
 * (appends only start once the store is open). So the command is simply run again (mend36).
 */
function setUpFailure (disk: StorageError, path: string): StorageError {
  if ((disk.details as { systemCode?: string }).systemCode !== 'SQLITE_IOERR_FSYNC') return disk
  return new StorageError('IO_ERROR', `the disk failed to flush the set-up of the pending store ${path} (its tables and meta rows, no record; SQLITE_IOERR_FSYNC): ${(disk.cause as Error).message}`, {
    hint: 'check the disk (dmesg, fsck), then run the command again: no record was being written, and the set-up is made again at the next open',
    details: { systemCode: 'SQLITE_IOERR_FSYNC', path },
    cause: disk.cause
  })
}

const layoutOf = (db: SqliteDb): string | undefined =>
  (db.prepare("SELECT value FROM meta WHERE key = 'layout'").get() as { value: string } | undefined)?.value

/**
 * Bring a store opened for writing to this Petal's layout. Layouts 1 and 2 differ from 3 only in
 * that every record holds one row: layout 3 adds the `rows.n` column (default 1, no row is
 * rewritten), and layout 1's rows' encoding is still read (row-codec.ts), so pending rows of an
 * upgraded store are sealed as they are. Setting 3 keeps older Petals out: one would take a
 * record of several rows for one row, and number a new row inside one. Only under the node lock
 * (this process's own, or taken for the update): a node of an older Petal reads the layout only
 * when it starts, and keeps writing its own layout while it runs; holding the lock keeps one from
 * starting between the look and the update. A node of this Petal upgrades the store when it opens
 * it, before it takes the node lock; a pull holds the lock too, so the update waits for its end.
 */
function upgradeLayout (db: SqliteDb, path: string): void {
  const from = layoutOf(db)
  // A store whose creation an older Petal cut short (its tables made, each statement committed on
  // its own, no meta row yet) has just been given this layout without the column (review37).
  if (from !== '1' && from !== '2' && (from !== LAYOUT || hasRecordRows(db))) return
  const dir = dirname(path)
  const lock = NodeLock.isHeldHere(dir) ? undefined : NodeLock.tryAcquire(dir, 'node.lock', NodeLock.LOOK_WAIT_MS)
  if (lock === undefined && !NodeLock.isHeldHere(dir)) {
    // A command stopped (Ctrl-Z) in the instant it looked at node.lock keeps it until it runs again.
    const stopped = lockHolders(join(dir, 'node.lock'))?.find(processStopped)
    if (stopped !== undefined) {
      throw new IngestError('INGEST_STORE_IN_USE', `cannot upgrade the pending store ${path} to layout ${LAYOUT}: process ${stopped} holds node.lock and is stopped`, {
        // It may be a look (lets go once resumed) or a pull (keeps the lock until its end): true of both.
        hint: `${resumeAdvice(stopped)}, then run this command again; if it is a pull, resumed it keeps node.lock until it has ended: run this command again then; if it is a node of an older Petal, end it and start it with this version of Petal (it upgrades pending.db itself)`
      })
    }
    throw new IngestError('INGEST_STORE_IN_USE', `cannot upgrade the pending store ${path} to layout ${LAYOUT}: another process holds node.lock (a node or a pull)`, {
      hint: 'run this command again when the pull has ended; if a node of an older Petal runs on this data directory, stop it and start it with this version of Petal (it upgrades pending.db itself)'
    })
  }
  // An older Petal's `petal seal` takes no node.lock: it holds seal.lock while it seals, having read
  // the layout at its open, and would claim layout 3's records as rows of its own (review38). No
  // process of this Petal holds seal.lock on a store not yet upgraded (each upgrades at its open).
  let seal: NodeLock | undefined
  try {
    seal = NodeLock.isHeldHere(dir, SEAL_LOCK_FILE) ? undefined : NodeLock.tryAcquire(dir, SEAL_LOCK_FILE, NodeLock.LOOK_WAIT_MS)
  } catch (err) {
    // seal.lock this user may not write, no file, a disk refusing it: node.lock goes back too (session 53's left).
    lock?.release()
    throw err
  }
  if (seal === undefined && !NodeLock.isHeldHere(dir, SEAL_LOCK_FILE)) {
    lock?.release()
    throw new IngestError('INGEST_STORE_IN_USE', `cannot upgrade the pending store ${path} to layout ${LAYOUT}: another process holds seal.lock (a \`petal seal\` of an older Petal)`, {
      hint: 'run this command again when that `petal seal` has ended (it seals with its own layout until then); run `petal seal` of this version from then on'
    })
  }
  try {
    upgradeAlone(db, path)
  } finally {
    seal?.release()
    lock?.release()
  }
}

/**
 * The upgrade's transaction, made only while no other process has pending.db open. An older
 * Petal's `petal seal` that opened the store (and read its layout) before the upgrade, but took
 * seal.lock only after it, would claim layout 3's records as rows of its own (review38's left): it
 * holds no lock the checks above see in that instant. But every connection to a WAL database
 * holds SQLite's shared lock on the file from its first read to its close, so the transaction
 * takes the file's exclusive lock (locking_mode EXCLUSIVE, BEGIN EXCLUSIVE, waiting up to a
 * second) and is refused while any other connection is open; one that opens meanwhile waits for
 * the lock and then reads layout 3, which an older Petal refuses.
 */
function upgradeAlone (db: SqliteDb, path: string): void {
  db.pragma('locking_mode = EXCLUSIVE')
  db.pragma(`busy_timeout = ${NodeLock.LOOK_WAIT_MS}`)
  try {
    // One transaction: the column and the layout that says it is there (another process of this
    // Petal may have upgraded the store since the look).
    db.transaction(() => {
      if (!hasRecordRows(db)) db.exec(RECORD_ROWS_COLUMN)
      db.prepare("UPDATE meta SET value = ? WHERE key = 'layout' AND value IN ('1', '2')").run(LAYOUT)
    }).exclusive()
  } catch (err) {
    if (errorCode(err)?.startsWith('SQLITE_BUSY') !== true) throw err
    throw new IngestError('INGEST_STORE_IN_USE', `cannot upgrade the pending store ${path} to layout ${LAYOUT}: another process has it open (a command of an older Petal: \`petal seal\`, \`petal append\`, \`petal serve\`)`, {
      hint: 'run this command again when that command has ended (stop a `petal serve` of an older Petal); run this version of Petal from then on: it upgrades pending.db at its first open'
    })
  } finally {
    db.pragma('busy_timeout = 5000')
    db.pragma('locking_mode = NORMAL')
    // The exclusive lock goes at the next read of the file.
    db.prepare('SELECT count(*) FROM sqlite_schema').get()
  }
}

/**
 * Give back to the claims the records an older Petal of layout 3 left pending below meta `low`
 * (d04bb02's defect: a claim split its first record and took none of the head's rows, whose
 * record then lay below `low`, pending for ever and out of pendingStats). No Petal puts a pending
 * record there any more (every path that makes rows pending lowers `low` to them, a quarantined
 * row has batch 0), so such a record is always one of those, and lowering `low` to it only makes
 * the next claim read from there: the rows are sealed once, as the batch that counted them never
 * took them. The look reads every record below `low` (no index has the pending ones: see store.ts),
 * so it is made once a store, in one transaction with its mark (meta `stranded`: the rows it
 * released). An older Petal run on the store after it could strand rows again, unseen: its
 * layout is the same, and docs/data-directory.md says to run this version.
 */
function releaseStranded (db: SqliteDb): void {
  const done = (): boolean => db.prepare("SELECT 1 FROM meta WHERE key = 'stranded'").get() !== undefined
  if (done()) return
  db.transaction(() => {
    if (done()) return // another process of this Petal looked since
    const low = Number((db.prepare("SELECT value FROM meta WHERE key = 'low'").get() as { value: string } | undefined)?.value ?? '1')
    const r = db.prepare('SELECT min(id) AS first, coalesce(sum(n), 0) AS rows FROM rows WHERE id < ? AND batch IS NULL').get(low) as { first: number | null, rows: number }
    if (r.first !== null) db.prepare("UPDATE meta SET value = ? WHERE key = 'low'").run(String(r.first))
    db.prepare("INSERT INTO meta (key, value) VALUES ('stranded', ?)").run(String(r.rows))
  }).immediate()
}

const hasRecordRows = (db: SqliteDb): boolean =>
  (db.prepare('PRAGMA table_info(rows)').all() as Array<{ name: string }>).some(c => c.name === 'n')

/**
 * A store of layout 1 or 2 opened read-only (not upgraded): its records are of one row each, read
 * through a temporary view with `n` = 1 that stands for `rows` (unqualified names find the temp
 * schema first; nothing is written to the file).
 */
function readOldRecords (db: SqliteDb): void {
  if (hasRecordRows(db)) return
  db.exec('CREATE TEMP VIEW rows AS SELECT id, tbl, data, bytes, at, batch, 1 AS n FROM main.rows')
}

/** Refuse a store of a layout this Petal cannot read (`readonly`: layouts 1 and 2 are read as they are). */
function checkLayout (db: SqliteDb, path: string, readonly: boolean): void {
  const layout = layoutOf(db)
  if (layout === undefined || layout === LAYOUT || (readonly && (layout === '1' || layout === '2'))) return
  const message = `cannot open the pending store ${path}: layout version ${layout}, this Petal knows ${LAYOUT}`
  // A newer Petal wrote it: restoring a backup would lose every row acknowledged since and reissue their receipt ids.
  if (/^[0-9]+$/.test(layout) && Number(layout) > Number(LAYOUT)) {
    throw new IngestError('INGEST_STORE_UNAVAILABLE', message, {
      hint: 'pending.db was written by a newer version of Petal: run that version (or a later one) on this data directory; do not restore or delete the file, it holds acknowledged rows that are not in a block yet'
    })
  }
  throw new Error(`layout version ${layout}, this Petal knows ${LAYOUT}`)
}
