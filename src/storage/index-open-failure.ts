import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { diskFailureOf } from '../block/index.js'
import { errorCode, errorMessage } from '../util/index.js'
import { StorageError } from './errors.js'
import { openSqliteReadonly } from './sqlite.js'
import { openRefusedByDisk, systemFailure } from './system-error.js'
import { describeWriter, readLockHolder, readWriterRecord, REINDEX_WORK, writerDetails, writerPid } from './writer-record.js'

/** File name of the write-lock holder's record, beside chain.db. */
export const WRITER_RECORD = 'writer.json'

/**
 * Why the index could not be opened, by SQLite's code: busy (another process; never "corrupt"),
 * not writable, the disk, or a file SQLite cannot read (only that is INDEX_CORRUPT, which
 * `petal reindex` replaces).
 */
export function indexOpenFailure (err: unknown, path: string): StorageError {
  if (err instanceof StorageError) return err // already said (a hot journal this user cannot roll back)
  const code = errorCode(err) ?? ''
  const msg = errorMessage(err)
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED') {
    const holder = readLockHolder(join(dirname(path), WRITER_RECORD), path)
    return new StorageError('INDEX_BUSY', `the chain index ${path} stayed locked by ${describeWriter(holder)}: ${msg}`, {
      hint: 'run the command again when that process has finished', details: { holder: writerDetails(holder) }, cause: err
    })
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'SQLITE_CANTOPEN') {
    const disk = openRefusedByDisk(path, err)
    if (disk !== undefined) return disk
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH' || (code === 'SQLITE_CANTOPEN' && existsSync(path))) {
    return new StorageError('DATA_DIR_READONLY', `cannot write the chain index ${path}: ${msg}`, {
      hint: 'this command writes to the data directory: run it as a user who can write there (read-only commands — status, blocks, block, signers, verify, query — work without)', cause: err
    })
  }
  if (code === 'SQLITE_FULL') {
    return new StorageError('DISK_FULL', `no space left to open the chain index ${path}: ${msg}`, { hint: 'free space on the disk that holds the data directory, then run the command again', cause: err })
  }
  // A write refused at the open (the -shm grown, the -wal: a full disk, a file-size limit) is
  // neither damage nor a failing disk, and reindex would not help (`ulimit -f 1`: review34).
  if (code === 'SQLITE_IOERR_SHMSIZE' || code === 'SQLITE_IOERR_WRITE' || code === 'SQLITE_IOERR_TRUNCATE') return systemFailure(err) ?? indexUnusable(path, msg, err)
  if (code.startsWith('SQLITE_IOERR')) {
    return new StorageError('IO_ERROR', `the disk failed while reading the chain index ${path}: ${msg}`, { hint: 'check the disk (dmesg, fsck); the index can be rebuilt from the block files with `petal reindex`', cause: err })
  }
  // A read the disk failed once (EIO, which SQLite calls a malformed page) is not a damaged index:
  // one that reads whole on a new connection gets the disk's error, not "rebuild it" (mend35).
  const disk = code === 'SQLITE_CORRUPT' ? diskFailureOf(err, path, () => { readsWhole(path) }) : undefined
  if (disk !== undefined) return systemFailure(disk) ?? indexUnusable(path, `cannot use the chain index ${path}: ${msg}`, err)
  return indexUnusable(path, `cannot use the chain index ${path}: ${msg}`, err)
}

/** Throws unless the index at `path` opens read-only and SQLite reads every page of it. */
function readsWhole (path: string): void {
  const db = openSqliteReadonly(path)
  try {
    if (db.pragma('quick_check(1)', { simple: true }) !== 'ok') throw new Error('quick_check')
  } finally {
    db.close()
  }
}

/**
 * INDEX_CORRUPT: the index at `path` is missing, empty or unreadable (`problem` says which). Told
 * to run `petal reindex`, unless one is running: a reindex that replaces a lost or unreadable
 * chain.db makes a new, empty one and fills it in one transaction, so until it commits a reader
 * sees nothing. writer.json then names it (it holds the write lock), and the hint is to wait.
 */
export function indexUnusable (path: string, problem: string, cause?: unknown): StorageError {
  const holder = readWriterRecord(join(dirname(path), WRITER_RECORD), path)
  if (holder?.work === REINDEX_WORK) {
    // One in a PID namespace not visible from here (`here` unknown) cannot be told alive or dead:
    // its record stays until the next writer's, and a killed one's would hold every reader here.
    const unseen = holder.pid_ns !== undefined && holder.here === undefined
    return new StorageError('INDEX_CORRUPT', `${problem}: ${describeWriter(holder)} is rebuilding it from the block files`, {
      hint: unseen
        ? `wait for that reindex to finish (${writerPid(holder)}, not visible from here), then run the command again; if no reindex runs there any more, remove ${join(dirname(path), WRITER_RECORD)} and run \`petal reindex\``
        : `wait for that reindex to finish (${writerPid(holder)}), then run the command again`,
      details: { rebuilder: writerDetails(holder) },
      cause
    })
  }
  return new StorageError('INDEX_CORRUPT', problem, { hint: 'rebuild it from the block files with `petal reindex`', cause })
}
