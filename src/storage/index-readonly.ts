import { accessSync, constants, existsSync } from 'node:fs'
import { errorCode, errorMessage, isRecord } from '../util/index.js'
import { StorageError } from './errors.js'
import { openRefusedByDisk } from './system-error.js'
import { writeRefusal } from './write-access.js'

/** chain.db's files a writer needs: the file, and its log and shared memory where they are. */
function indexParts (db: string): Array<[string, string]> {
  const parts: Array<[string, string]> = [[`${db}-wal`, 'the chain index\'s log'], [`${db}-shm`, 'the chain index\'s shared memory']]
  return [[db, 'the chain index'], ...parts.filter(([f]) => existsSync(f))]
}

/**
 * Whether this user may not write one of chain.db's files now (owner, mode, a read-only file
 * system): SQLite then opens the connection read-only, silently, and it stays so. Asked at a
 * writable open (three access(2) calls), so that a refusal later can tell a permission fixed since
 * then (only a new connection can write) from a disk that refused the read-write open.
 */
export function indexUnwritable (db: string): boolean {
  return indexParts(db).some(([f]) => {
    try {
      accessSync(f, constants.W_OK)
      return false
    } catch {
      return true
    }
  })
}

/** Whether `err` is SQLite's refusal to write through a read-only connection, raw or coded. */
function readonlyRefusal (err: unknown): boolean {
  const code = errorCode(err) ?? ''
  if (code.startsWith('SQLITE_READONLY')) return true
  const sys = isRecord(err) && isRecord(err.details) ? err.details.systemCode : undefined
  return code === 'PERMISSION_DENIED' && typeof sys === 'string' && sys.startsWith('SQLITE_READONLY')
}

/**
 * A write to chain.db refused because its connection is read-only (SQLITE_READONLY), said with the
 * path and a true hint; undefined for any other error. It said PERMISSION_DENIED, "run as a user
 * who may write the data directory", without a path, which on a file system mounted read-only no
 * user can (session 55's left; db6a5b3a and 413531eb did it for pending.db and tokens). In order:
 * the read-only file system; the file this user may not write (its owner and the command that
 * fixes it); a permission fixed since the connection was opened (`unwritableAtOpen`: SQLite keeps
 * it read-only, so only a restart writes: a node's seals were refused until one, session 55's
 * left); else the disk refused the read-write open (IO_ERROR).
 */
export function indexWriteRefused (db: string, err: unknown, unwritableAtOpen: boolean, atBegin = false): StorageError | undefined {
  if (!readonlyRefusal(err)) return undefined
  const cause = isRecord(err) && err.cause !== undefined && readonlyRefusal(err.cause) ? err.cause : err
  const fs = openRefusedByDisk(db, cause)
  if (fs !== undefined && (fs.details as { systemCode?: string } | undefined)?.systemCode === 'EROFS') return fs
  for (const [path, what] of indexParts(db)) {
    const refusal = writeRefusal(path, what)
    if (refusal !== undefined) return refusal
  }
  if (unwritableAtOpen) {
    return new StorageError('PERMISSION_DENIED', `cannot write the chain index ${db}: this process opened it when this user could not write it, and SQLite keeps that connection read-only though this user may write it now (${errorMessage(cause)})`, {
      hint: `restart the process (a node: stop \`petal run\` and start it again) so that it opens ${db} anew; its permissions are right now`,
      details: { path: db, reopen: true }
    })
  }
  // The disk refused the read-write open of the log (ENOSPC, EIO; mend35's message names it): said
  // of BEGIN's refusal only, which is chain.db's own. A refusal from inside the transaction may be
  // another file's (a signimportblock source's hot journal that cannot be rolled back): as it is.
  return atBegin ? openRefusedByDisk(`${db}-wal`, cause) : undefined
}
