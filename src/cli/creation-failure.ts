import { existsSync } from 'node:fs'
import { StorageError, systemFailure, type DataDir } from '../storage/index.js'
import { isPetalError } from '../util/index.js'

const SQLITE_WRITE = new Set(['SQLITE_IOERR_WRITE', 'SQLITE_IOERR_TRUNCATE', 'SQLITE_IOERR_SHMSIZE'])

/**
 * The error of a command that makes a chain (init, newchain, adopt-daisy) whose disk failed
 * before chainparams.json was written. The directory then holds no chain (chainparams.json is
 * written last), so the failure's own hint, written for a directory that holds one (`petal
 * reindex`, `petal verify`, "look with `petal status`"), would fail NOT_INITIALISED when run
 * (mend36). The one true next step is the same command again, which clears what this attempt
 * left (prepareEmptyDir). Any other error, or one after chainparams.json was written, as it is.
 */
export function creationFailure (err: unknown, dir: DataDir, again: string): unknown {
  const coded = isPetalError(err) ? err : systemFailure(err)
  if (!(coded instanceof StorageError) || existsSync(dir.chainParams)) return err
  if (coded.code !== 'IO_ERROR' && coded.code !== 'DISK_FULL') return err
  const system = (coded.details as { systemCode?: string }).systemCode ?? ''
  const remedy = coded.code === 'DISK_FULL'
    ? system === 'EFBIG' ? 'raise the file-size limit (`ulimit -f`) or free space on the disk that holds the data directory' : 'free space on the disk that holds the data directory'
    : SQLITE_WRITE.has(system) || coded.message.startsWith('the disk refused to open')
      ? 'free space on the disk that holds the data directory or raise the file-size limit (`ulimit -f`); if neither is the cause, check the disk (dmesg, fsck)'
      : 'check the disk (dmesg, fsck)'
  return new StorageError(coded.code, coded.message, {
    hint: `${remedy}, then run \`${again}\`: the directory holds no chain yet (chainparams.json is written last), and the command starts over, removing what this attempt left`,
    details: coded.details,
    cause: coded.cause ?? err
  })
}
