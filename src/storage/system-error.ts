import { accessSync, closeSync, constants, existsSync, lstatSync, openSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { canWrite, errorCode, errorMessage, isRecord, shellWord } from '../util/index.js'
import { StorageError, type StorageErrorCode } from './errors.js'
import { writeRefusal } from './write-access.js'

interface Failure { code: StorageErrorCode, what: string, hint: string }

/** Whether following `path`'s links fails with ELOOP (a loop, or too many links to follow). */
function isLoop (path: string): boolean {
  try {
    statSync(path)
    return false
  } catch (err) {
    return errorCode(err) === 'ELOOP'
  }
}

/** Operating-system error codes (errno names) that say something about the machine, not a bug. */
function classifyErrno (code: string, path: string | undefined): Failure | undefined {
  const where = path === undefined ? 'the disk' : `the disk that holds ${dirname(path)}`
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return { code: 'DISK_FULL', what: 'no space left on the disk', hint: `free space on ${where} and run the command again; nothing was changed` }
    case 'EFBIG':
      return { code: 'DISK_FULL', what: 'a file grew past the size this process or file system allows', hint: `raise the file-size limit (\`ulimit -f\`) or free space on ${where}, then run the command again; nothing was changed` }
    case 'EIO':
      return { code: 'IO_ERROR', what: 'the disk failed to read or write', hint: `check ${where} (dmesg, fsck) before going on; \`petal verify\` checks the block files` }
    case 'EACCES':
    case 'EPERM':
      return { code: 'PERMISSION_DENIED', what: 'permission denied', hint: path === undefined ? 'run as a user who may read and write these files' : `check the owner and mode of ${standing(path)}, or run as a user who may use it` }
    case 'EROFS':
      return { code: 'PERMISSION_DENIED', what: 'the file system is read-only', hint: 'commands that only read (status, blocks, block, signers, verify, query) work there; others need a writable disk' }
    case 'EMFILE':
    case 'ENFILE':
      return { code: 'TOO_MANY_OPEN_FILES', what: 'too many open files', hint: 'raise the limit of open files (`ulimit -n`) and run the command again' }
    case 'ELOOP':
      // Links that lead back to one another (a `witnesses` link to itself): no file where a directory
      // belongs (locks54). An open that follows no link (O_NOFOLLOW) of a link that resolves: below.
      if (path !== undefined && !isLoop(path)) return { code: 'PATH_CONFLICT', what: 'a path is not what it should be (a symbolic link where a file belongs)', hint: `look at ${path}: move what is in the way` }
      return { code: 'PATH_CONFLICT', what: 'a symbolic link loop: following the links of a path leads back to one of them', hint: path === undefined ? 'check the paths you gave' : `\`namei ${shellWord(path)}\` shows the links followed: point the looping link at the file or directory it stands for, or remove it` }
    case 'ENOTDIR':
    case 'EISDIR':
    case 'EEXIST':
    case 'ENAMETOOLONG':
      return { code: 'PATH_CONFLICT', what: 'a path is not what it should be (a file where a directory belongs, or the other way round)', hint: path === undefined ? 'check the paths you gave' : `look at ${path}: move what is in the way` }
    default:
      return undefined
  }
}

/**
 * `path`, or where this process cannot see it (a file or directory whose creation was refused, a
 * path below a directory it may not search) the nearest directory above it that it can: the one
 * whose owner and mode refused it. A hint that named a directory `mkdir` was refused ("check the
 * owner and mode of DIR/keystore") named one that is not there (health53).
 */
function standing (path: string): string {
  for (let p = path; ; p = dirname(p)) {
    try {
      lstatSync(p)
      return p
    } catch {
      if (dirname(p) === p) return path
    }
  }
}

/** SQLite result codes that say something about the machine (the database file's disk). */
// "SQLite rolled the change back" is true of SQLITE_FULL and _IOERR_WRITE: a COMMIT whose frame
// write fails never wrote a whole commit frame, and an automatic checkpoint's failure never reaches
// the COMMIT (SQLite's default WAL hook ignores what sqlite3_wal_checkpoint returns; tested in
// io-faults-commit.test.ts). Not of _IOERR_FSYNC at a WAL COMMIT, which chain.db and pending.db
// undo themselves (commitWal): this hint is for the connections that do not.
function classifySqlite (code: string): Failure | undefined {
  if (code === 'SQLITE_FULL') return { code: 'DISK_FULL', what: 'no space left on the disk (SQLite)', hint: 'free space on the disk that holds the data directory and run the command again; SQLite rolled the change back' }
  if (code === 'SQLITE_IOERR_FSYNC') {
    // A WAL commit whose fsync failed is rolled back in this process only: its frames stay in the
    // -wal, and the next process's recovery finds them committed (fault torture, session 33),
    // unless a later commit overwrites them (commitWal, wal-commit.ts).
    return { code: 'IO_ERROR', what: 'the disk failed to flush a write under SQLite (SQLITE_IOERR_FSYNC)', hint: 'check the disk (dmesg, fsck); the change may still be recorded (SQLite\'s log holds it, and the next command can find it committed): look (`petal status`) before running the command again' }
  }
  if (['SQLITE_IOERR_WRITE', 'SQLITE_IOERR_TRUNCATE', 'SQLITE_IOERR_SHMSIZE'].includes(code)) {
    // SQLite does not say which errno: a full disk and a file-size limit (EFBIG) end here too.
    return { code: 'IO_ERROR', what: `a write failed under SQLite (${code})`, hint: 'free space on the disk that holds the data directory or raise the file-size limit (`ulimit -f`); if neither is the cause, check the disk (dmesg, fsck). SQLite rolled the change back' }
  }
  // A read SQLite could not make (a page's EIO, when SQLite does not call it SQLITE_CORRUPT): no
  // "rolled back" for a command that only reads (mend35); a write the read was part of failed whole.
  if (['SQLITE_IOERR_CORRUPTFS', 'SQLITE_IOERR_READ', 'SQLITE_IOERR_SHORT_READ'].includes(code)) {
    return { code: 'IO_ERROR', what: `the disk failed a read under SQLite (${code})`, hint: 'check the disk (dmesg, fsck), then run the command again: a read that fails changes nothing (a change it was part of was not recorded)' }
  }
  if (code.startsWith('SQLITE_IOERR')) return { code: 'IO_ERROR', what: `the disk failed under SQLite (${code})`, hint: 'check the disk (dmesg, fsck), then run the command again; if the command was writing, SQLite rolled its change back' }
  // Also what SQLite says when the disk refuses to create a file (ENOSPC, EIO: the genesis or a
  // sealed block being built in tmp/; fault torture, seed 361), which permissions do not explain.
  if (code === 'SQLITE_CANTOPEN') return { code: 'PERMISSION_DENIED', what: 'SQLite cannot open a database file', hint: 'check that the data directory exists and that this user may read and write it; if it does and this user may, the disk refused to create or open the file (full or failing): free space or check the disk (dmesg), then run the command again' }
  // SQLite opens a file read-only, silently, when the disk refuses its read-write open (EIO,
  // ENOSPC), not only when permissions do: the hint names both (the path is not known here).
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM') return { code: 'PERMISSION_DENIED', what: 'a database file cannot be written', hint: 'run the command as a user who may write the data directory; if this user may already, the disk refused to open it for writing (full or failing): free space or check the disk (dmesg), then run the command again' }
  return undefined
}

/**
 * Map a failure of the operating system or of SQLite's file layer — a full disk, a file-size
 * limit, a failing disk, permissions, too many open files, a path in the way — to a coded
 * StorageError with a hint, or undefined for anything else (a real bug). Used wherever such an
 * error can surface, and by the CLI as its last line before reporting an internal error.
 */
export function systemFailure (err: unknown): StorageError | undefined {
  const code = errorCode(err)
  if (!isRecord(err) || code === undefined) return undefined
  const path = typeof err.dest === 'string' && code !== 'EACCES' ? err.dest : typeof err.path === 'string' ? err.path : undefined
  const f = code.startsWith('SQLITE_') ? classifySqlite(code) : classifyErrno(code, path)
  if (f === undefined) return undefined
  const refused = code === 'EACCES' || code === 'EPERM' ? refusedPath(err) : undefined
  if (refused !== undefined) {
    return new StorageError(f.code, `${f.what}: ${errorMessage(err)} (${refused.error.message})`, { hint: refused.error.hint, details: { systemCode: code, path: refused.at }, cause: err })
  }
  return new StorageError(f.code, `${f.what}: ${errorMessage(err)}`, { hint: f.hint, details: { systemCode: code, path }, cause: err })
}

/**
 * The path this user may not write that explains an EACCES or EPERM (writeRefusal: named, with
 * the command that fixes it): of a rename, the directory it moves into, then the one it moves out
 * of; otherwise the path, then its directory. A root-owned block directory's refusal at the seal's
 * rename named tmp/, the rename's source, and no command (session 54's left).
 */
function refusedPath (err: Record<string, unknown>): { error: StorageError, at: string } | undefined {
  const from = typeof err.path === 'string' ? err.path : undefined
  const to = typeof err.dest === 'string' ? err.dest : undefined
  const candidates = to !== undefined ? [dirname(to), ...(from === undefined ? [] : [dirname(from)])] : from !== undefined ? [from, dirname(from)] : []
  for (const c of candidates) {
    const r = writeRefusal(c, c === from ? 'the file' : 'the directory')
    if (r !== undefined) return { error: r, at: c }
  }
  return undefined
}

/**
 * For a database at `path` that SQLite could not open for writing (SQLITE_READONLY, _CANTOPEN,
 * _PERM): an IO_ERROR when this user may write it and its directory, since then the disk refused
 * the read-write open (EIO, ENOSPC: SQLite falls back to read-only and says "readonly"); undefined
 * when permissions explain it. Found by the fault torture (session 33): such opens were reported
 * as DATA_DIR_READONLY or INGEST_STORE_UNAVAILABLE with the hint to run as another user.
 * TOO_MANY_OPEN_FILES first, when the process has no descriptor left (SQLITE_CANTOPEN alone).
 */
export function openRefusedByDisk (path: string, err: unknown): StorageError | undefined {
  const fds = errorCode(err) === 'SQLITE_CANTOPEN' ? outOfDescriptors() : undefined
  if (fds !== undefined) {
    const f = classifyErrno(fds, path) as Failure
    return new StorageError(f.code, `cannot open ${path}: ${f.what} (${fds}): ${errorMessage(err)}`, { hint: f.hint, details: { systemCode: fds, path }, cause: err })
  }
  // A read-only file system: said as such (as NodeLock's refusal since locks54), not "run as a
  // user who can write there", which no user can (review55).
  if (readOnlyFs(dirname(path))) {
    const f = classifyErrno('EROFS', path) as Failure
    return new StorageError(f.code, `cannot open ${path} for writing: ${f.what}: ${errorMessage(err)}`, { hint: f.hint, details: { systemCode: 'EROFS', path }, cause: err })
  }
  if (!canWrite(dirname(path)) || (existsSync(path) && !canWrite(path))) return undefined
  return new StorageError('IO_ERROR', `the disk refused to open ${path} for writing, though this user may write it: ${errorMessage(err)}`, {
    hint: `free space on the disk that holds ${dirname(path)} and check it (dmesg), then run the command again`, details: { systemCode: errorCode(err), path }, cause: err
  })
}

/** Whether `dir` is on a file system mounted read-only (access(2) says EROFS). */
function readOnlyFs (dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK)
    return false
  } catch (err) {
    return errorCode(err) === 'EROFS'
  }
}

/**
 * EMFILE or ENFILE when this process cannot open one more descriptor now: SQLite reports a
 * process out of descriptors as SQLITE_CANTOPEN alone, which said "the disk refused" (review34).
 */
function outOfDescriptors (): 'EMFILE' | 'ENFILE' | undefined {
  try {
    closeSync(openSync('/dev/null', 'r'))
    return undefined
  } catch (err) {
    const code = errorCode(err)
    return code === 'EMFILE' || code === 'ENFILE' ? code : undefined
  }
}
