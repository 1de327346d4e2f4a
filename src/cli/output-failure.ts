import { errorCode, errorMessage, isRecord, shellWord, type DamagedFile } from '../util/index.js'
import { UsageError } from './errors.js'

/**
 * The error for an output file the user named (`-o PATH`) that writeOutputFile could not write,
 * with a hint that fits why: a path into the data directory (by name, another name of the
 * directory, a hard link of one of its files: EINSIDE), a reader of a FIFO that went away
 * (EPIPE), a full disk (ENOSPC, EDQUOT); anything else gets the command's own `hint`. The
 * command's hint ("choose a path in a directory you can write") was printed for all of them, and
 * is not what to do when a reader left or the disk is full (review33).
 */
export function outputFileFailure (path: string, err: unknown, hint: string): UsageError {
  const code = errorCode(err)
  const { dir, file, alias, descriptor } = code === 'EINSIDE' ? err as { dir?: unknown, file?: unknown, alias?: unknown, descriptor?: unknown } : {}
  // `-o /dev/fd/N` with N open on a file of the data directory (`3>> DIR/keystore/KEY.json`).
  if (typeof dir === 'string' && typeof file === 'string' && typeof descriptor === 'number') return new UsageError(`cannot write ${path}: descriptor ${descriptor} is open on ${file}, in the data directory ${dir}, whose files (chain.db, keystore/, the blocks) only Petal writes`, `open descriptor ${descriptor} on a file outside ${dir} (\`${descriptor}>> FILE\` in the shell), or name such a file with -o`)
  // A hard link made outside: written in place, the data directory's file would take the text.
  if (typeof dir === 'string' && typeof file === 'string') return new UsageError(`cannot write ${path}: it is another name (a hard link) of ${file}, in the data directory ${dir}, whose files (chain.db, keystore/, the blocks) only Petal writes`, `choose another path, or remove ${path} first (the data directory keeps its own name of the file)`)
  if (typeof dir === 'string' && typeof alias === 'string') return new UsageError(`cannot write ${path}: ${alias} is the data directory ${dir} under another name (a bind mount), whose files (chain.db, keystore/, the blocks) only Petal writes`, `choose a path outside ${alias} and ${dir}`)
  if (typeof dir === 'string') return new UsageError(`cannot write ${path}: it is in the data directory ${dir}, whose files (chain.db, keystore/, the blocks) only Petal writes`, `choose a path outside ${dir}`)
  const damaged = isRecord(err) && isRecord(err.damaged) ? err.damaged as unknown as DamagedFile : undefined
  if (damaged !== undefined) return damagedFailure(path, err, damaged)
  if (code === 'EPIPE') {
    return new UsageError(`cannot write ${path}: its reader went away before the output ended (EPIPE); what it read is incomplete`, `keep a reader on ${path} until the command ends (\`cat ${shellWord(path)}\` in another terminal), then run the command again`)
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new UsageError(`cannot write ${path}: ${errorMessage(err)}`, `the disk that holds ${path} is full (or this user's quota is used up): free space there, or choose a path on another disk, then run the command again`)
  }
  return new UsageError(`cannot write ${path}: ${errorMessage(err)}`, hint)
}

/**
 * A write in place (a file with other hard links, or one that could not be replaced by a new
 * file) that failed and could not put the old content back: it was reported as the write's error
 * alone ("the disk is full"), and the user did not learn that the file, in each of its names, now
 * held part of the new text, or nothing (mend34).
 */
function damagedFailure (path: string, err: unknown, d: DamagedFile): UsageError {
  const code = errorCode(err)
  const holds = d.size === 0 ? 'is now empty' : d.size > 0 ? `now holds ${d.size} bytes, neither its old content nor the new` : 'is now neither its old content nor the new'
  const cause = code === 'ENOSPC' || code === 'EDQUOT'
    ? `free space on its disk (or this user's quota)`
    : code === 'EFBIG' ? 'raise the file-size limit (`ulimit -f`)' : code === 'EIO' ? 'check the disk that holds it (`dmesg`)' : 'remedy the failure above'
  return new UsageError(`cannot write ${path}: ${errorMessage(err)}; ${d.path}, written in place (it has other hard links, or could not be replaced by a new file), ${holds}, and its old content could not be put back (${d.lost})`,
    `${d.path} is damaged under every name it has: restore it from a backup if its old content mattered; then ${cause} and run the command again, which writes it whole`)
}
