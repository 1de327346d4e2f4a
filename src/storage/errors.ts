import { PetalError, registerErrorClass, type CodeDoc } from '../util/index.js'
import type { WriterRecord } from './writer-record.js'

export const STORAGE_ERROR_CODES = [
  'NOT_INITIALISED',
  'DATA_DIR_NOT_EMPTY',
  'CHAINPARAMS_INVALID',
  'INDEX_CORRUPT',
  'DATA_DIR_READONLY',
  'LOCK_TIMEOUT',
  'INDEX_BUSY',
  'DATA_FILE_NOT_REGULAR',
  'DISK_FULL',
  'IO_ERROR',
  'PERMISSION_DENIED',
  'TOO_MANY_OPEN_FILES',
  'PATH_CONFLICT',
  'JOURNAL_INVALID',
  'BLOCK_FILE_MISSING',
  'KEY_NOT_FOUND',
  'KEY_AMBIGUOUS',
  'KEY_EXISTS',
  'NO_KEYS',
  'PASSPHRASE_REQUIRED',
  'KEY_FILE_INVALID'
] as const

export type StorageErrorCode = typeof STORAGE_ERROR_CODES[number]

type None = Record<never, never>
/** A failure of the machine: `systemCode` is the errno or SQLite code, `path` the file, when known. */
interface SystemFailure { systemCode?: string, path?: string | undefined }

/** `details` of each code. */
export interface StorageErrorDetails {
  NOT_INITIALISED: None
  DATA_DIR_NOT_EMPTY: None
  CHAINPARAMS_INVALID: None
  INDEX_CORRUPT: None
  DATA_DIR_READONLY: None
  /** `holder`: the process that holds the write lock, when it has said who it is (writer.json) */
  LOCK_TIMEOUT: { holder?: WriterRecord | undefined }
  /** `holder`: as for LOCK_TIMEOUT */
  INDEX_BUSY: { holder?: WriterRecord | undefined }
  /** `path`: the file of the data directory that is not a regular file */
  DATA_FILE_NOT_REGULAR: { path: string }
  DISK_FULL: SystemFailure
  IO_ERROR: SystemFailure
  PERMISSION_DENIED: SystemFailure
  TOO_MANY_OPEN_FILES: SystemFailure
  PATH_CONFLICT: SystemFailure
  /** `path`: the journal file */
  JOURNAL_INVALID: { path: string }
  /** `height`: the block whose file is missing, when known */
  BLOCK_FILE_MISSING: { height?: number }
  KEY_NOT_FOUND: None
  KEY_AMBIGUOUS: None
  KEY_EXISTS: None
  NO_KEYS: None
  PASSPHRASE_REQUIRED: None
  /** `path`: the damaged key file */
  KEY_FILE_INVALID: { path: string }
}

/** The data directory, its index or its keystore cannot be used as asked. */
export class StorageError<C extends StorageErrorCode = StorageErrorCode> extends PetalError<C, StorageErrorDetails[C]> {
  static readonly codes = STORAGE_ERROR_CODES
}

export const STORAGE_ERROR_DOCS: Readonly<Record<StorageErrorCode, CodeDoc>> = {
  NOT_INITIALISED: { meaning: 'the data directory holds no chain (no chainparams.json), or is not a directory', hint: 'create one with `petal newchain PARAMS.json`, fetch one with `petal pull MULTIADDR`, or choose another --dir' },
  DATA_DIR_NOT_EMPTY: { meaning: 'a new chain or a pull needs an empty data directory, and this one is not', hint: 'give an empty or new directory with --dir' },
  CHAINPARAMS_INVALID: { meaning: 'chain parameters (chainparams.json, newchain input) are malformed, or disagree with the genesis block', hint: 'the message names the field; docs/data-directory.md lists them' },
  INDEX_CORRUPT: { meaning: 'the chain index (chain.db) is missing, empty or unreadable', hint: 'rebuild it from the block files with `petal reindex`' },
  DATA_DIR_READONLY: { meaning: 'the command writes to the data directory, and this user cannot', hint: 'run it as a user who can write there; read-only commands (status, blocks, block, signers, verify, query) work without' },
  LOCK_TIMEOUT: { meaning: 'another process held the data directory\'s write lock longer than --wait allowed; the message names it (writer.json)', hint: 'run the command again when that process has finished, or wait longer with --wait SECONDS' },
  INDEX_BUSY: { meaning: 'the chain index stayed locked by another process (busy, not damaged); the message names it', hint: 'run the command again when that process has finished' },
  DATA_FILE_NOT_REGULAR: { meaning: 'a file of the data directory is a symbolic link, a pipe, a device or a directory; Petal opens only regular files there (the message names it)', hint: 'move it aside and put the regular file back (`petal verify` says what is missing)' },
  DISK_FULL: { meaning: 'the disk that holds the data directory is full; nothing was changed', hint: 'free space on that disk, then run the command again' },
  IO_ERROR: { meaning: 'the disk failed while reading or writing the data directory', hint: 'check the disk (dmesg, fsck); the index can be rebuilt from the block files with `petal reindex`' },
  PERMISSION_DENIED: { meaning: 'the operating system refused access to a file (permissions, a read-only file system)', hint: 'check the owner and mode of the file the message names, or run as a user who may use it' },
  TOO_MANY_OPEN_FILES: { meaning: 'the process ran out of file descriptors', hint: 'raise the limit of open files (`ulimit -n`) and run the command again' },
  PATH_CONFLICT: { meaning: 'a path is not what it should be (a file where a directory belongs, or the other way round)', hint: 'look at the path the message names and move what is in the way' },
  JOURNAL_INVALID: { meaning: 'the journal of an interrupted multi-file change (journal.json) is damaged', hint: 'move it out of the data directory (keep it), then run `petal verify`: it names any block file left out of place' },
  BLOCK_FILE_MISSING: { meaning: 'a block file or its seal file is missing from the data directory', hint: 'fetch it again with `petal verify --repair` (from known peers, `--peer ADDR` or `--from DIR`), or restore it from a backup' },
  KEY_NOT_FOUND: { meaning: 'no key in the keystore matches, or its key file holds no usable key', hint: 'list keys with `petal mykeys`' },
  KEY_AMBIGUOUS: { meaning: 'the key id prefix matches several keys', hint: 'give more digits of the key id' },
  KEY_EXISTS: { meaning: 'the key is already in the keystore' },
  NO_KEYS: { meaning: 'the keystore has no keys', hint: 'create one with `petal keygen` or import one with `petal keys import FILE`' },
  PASSPHRASE_REQUIRED: { meaning: 'the key is encrypted and no passphrase was given', hint: 'give the passphrase with --passphrase-file FILE or the PETAL_PASSPHRASE environment variable' },
  KEY_FILE_INVALID: { meaning: 'a key file of the keystore is truncated, damaged or inconsistent (its id is not its key\'s)', hint: 'move it out of the keystore (keep it: it may be recoverable) and import the key again from a backup with `petal keys import FILE`' }
}

registerErrorClass(StorageError, 'the data directory, its index or its keystore cannot be used as asked', STORAGE_ERROR_DOCS)
