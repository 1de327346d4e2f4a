import { PetalError, registerErrorClass, type CodeDoc } from '../util/index.js'
import type { WriterDetails } from './writer-record.js'

export const STORAGE_ERROR_CODES = [
  'NOT_INITIALISED',
  'DATA_DIR_NOT_EMPTY',
  'CHAINPARAMS_INVALID',
  'INDEX_CORRUPT',
  'DATA_DIR_READONLY',
  'WRITE_INTERRUPTED',
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
  'KEY_FILE_INVALID',
  'KEY_WRONG_PURPOSE',
  'WAL_CHECK_MISSING'
] as const

export type StorageErrorCode = typeof STORAGE_ERROR_CODES[number]

type None = Record<never, never>
/** A failure of the machine: `systemCode` is the errno or SQLite code, `path` the file, when known. */
/** `undone`: a COMMIT whose fsync failed, and whether a later commit then undid it durably (wal-commit.ts) */
/** `need`, `free`: bytes a write needed beside `path` and the bytes free there, where it asked first (the move of chain.db: index-migrate.ts). */
/** `reopen`: chain.db's connection is read-only since its open and only a new one writes (index-readonly.ts). */
interface SystemFailure { systemCode?: string, path?: string | undefined, undone?: boolean, need?: number, free?: number, reopen?: boolean }

/** `details` of each code. */
export interface StorageErrorDetails {
  NOT_INITIALISED: None
  DATA_DIR_NOT_EMPTY: None
  CHAINPARAMS_INVALID: None
  /** `rebuilder`: the `petal reindex` that is rebuilding the index right now (writer.json), when one is */
  INDEX_CORRUPT: { rebuilder?: WriterDetails }
  DATA_DIR_READONLY: None
  WRITE_INTERRUPTED: None
  /** `holder`: the process that holds the write lock, when it has said who it is (writer.json) */
  LOCK_TIMEOUT: { holder?: WriterDetails | undefined }
  /** `holder`: as for LOCK_TIMEOUT */
  INDEX_BUSY: { holder?: WriterDetails | undefined }
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
  BLOCK_FILE_MISSING: { height?: number, hash?: string, indexTip?: number }
  KEY_NOT_FOUND: None
  KEY_AMBIGUOUS: None
  KEY_EXISTS: None
  NO_KEYS: None
  PASSPHRASE_REQUIRED: None
  /** `path`: the damaged key file */
  KEY_FILE_INVALID: { path: string }
  KEY_WRONG_PURPOSE: None
  /** `path`: the SQLite extension that was not found or not loaded */
  WAL_CHECK_MISSING: { path: string }
}

/** The data directory, its index or its keystore cannot be used as asked. */
export class StorageError<C extends StorageErrorCode = StorageErrorCode> extends PetalError<C, StorageErrorDetails[C]> {
  static readonly codes = STORAGE_ERROR_CODES
}

function storageErrorDocs (): Readonly<Record<StorageErrorCode, CodeDoc>> {
  return {
    NOT_INITIALISED: { meaning: 'the data directory holds no chain (no chainparams.json), or is not a directory', hint: 'create one with `petal newchain PARAMS.json`, fetch one with `petal pull MULTIADDR`, or choose another --dir' },
    DATA_DIR_NOT_EMPTY: { meaning: 'a new chain or a pull needs an empty data directory, and this one is not', hint: 'give an empty or new directory with --dir' },
    CHAINPARAMS_INVALID: { meaning: 'chain parameters (chainparams.json, newchain input) are malformed, or disagree with the genesis block', hint: 'the message names the field; docs/data-directory.md lists them' },
    INDEX_CORRUPT: { meaning: 'the chain index (chain.db) is missing, empty or unreadable, or older than the block files (a chain.db copied back from a backup: a write that places a block is refused); while a `petal reindex` rebuilds it (a lost or unreadable one is replaced by an empty one filled in one transaction), the message names that reindex and the hint says to wait for it', hint: 'rebuild it from the block files with `petal reindex`' },
    DATA_DIR_READONLY: { meaning: 'the command writes to the data directory, and this user cannot', hint: 'run it as a user who can write there; read-only commands (status, blocks, block, signers, verify, query) work without' },
    WRITE_INTERRUPTED: { meaning: 'a database of the data directory holds a write that a killed process left half done (a hot rollback journal beside it), and this user cannot write there to roll it back; nothing is lost: the write was never acknowledged', hint: 'run the command again as a user who can write the data directory: opening the file then rolls the interrupted write back' },
    LOCK_TIMEOUT: { meaning: 'another process held the data directory\'s write lock longer than --wait allowed; the message names it (writer.json)', hint: 'run the command again when that process has finished, or wait longer with --wait SECONDS' },
    INDEX_BUSY: { meaning: 'the chain index stayed locked by another process, or its log stayed in use by readers (of any process) while an earlier interrupted group had to be re-written into it (busy, not damaged); the message says which', hint: 'run the command again when that process has finished, or when those readers have' },
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
    KEY_EXISTS: { meaning: 'the key is already in the keystore', hint: 'it is there already (`petal mykeys` lists it): nothing to import' },
    NO_KEYS: { meaning: 'the keystore has no keys', hint: 'create one with `petal keygen` or import one with `petal keys import FILE`' },
    PASSPHRASE_REQUIRED: { meaning: 'the key is encrypted and no passphrase was given', hint: 'give the passphrase with --passphrase-file FILE or the PETAL_PASSPHRASE environment variable' },
    KEY_FILE_INVALID: { meaning: 'a key file of the keystore is truncated, damaged or inconsistent (its id is not its key\'s)', hint: 'move it out of the keystore (keep it: it may be recoverable) and import the key again from a backup with `petal keys import FILE`' },
    KEY_WRONG_PURPOSE: { meaning: 'an encryption key was given where a signing key is needed, or the other way round (they are kept apart: docs/confidential.md)', hint: '`petal mykeys` lists each key with its purpose' },
    WAL_CHECK_MISSING: { meaning: 'a command would write chain.db or pending.db, and Petal\'s SQLite extension that checks their -wal log before any checkpoint (dist/native/petal-wal-index.node) was not built (no C compiler at `npm run build`) or cannot be loaded; without it a checkpoint could copy a lost write into the database, so writing is refused (docs/data-directory.md)', hint: 'install a C compiler (e.g. apt-get install gcc), then run `npm run build`; read-only commands work without it' }
  }
}

registerErrorClass(StorageError, 'the data directory, its index or its keystore cannot be used as asked', storageErrorDocs)

export const DAISY_ERROR_CODES = [
  'DAISY_DB_MISSING',
  'DAISY_DB_INVALID',
  'DAISY_CHAINPARAMS_INVALID',
  'DAISY_BLOCK_MISSING',
  'DAISY_HASH_MISMATCH',
  'DAISY_BROKEN_LINK',
  'DAISY_BLOCK_INVALID',
  'DAISY_GENESIS_MISMATCH',
  'DAISY_READ_ONLY',
  'DAISY_STATE_FOREIGN',
  'DAISY_ADOPTION_MISMATCH'
] as const

export type DaisyErrorCode = typeof DAISY_ERROR_CODES[number]

/** `details` of each code: `height` names the Daisy block, `path` the file, where there is one. */
export interface DaisyErrorDetails {
  DAISY_DB_MISSING: { path: string }
  DAISY_DB_INVALID: { path: string, height?: number }
  DAISY_CHAINPARAMS_INVALID: { path: string }
  DAISY_BLOCK_MISSING: { height: number, path: string }
  DAISY_HASH_MISMATCH: { height: number, path: string, hash: string, expected: string }
  DAISY_BROKEN_LINK: { height: number, parent: string, expected: string }
  /** `rule`: the BlockError code of the v1 rule the block breaks (e.g. SIGNER_NOT_AUTHORISED) */
  DAISY_BLOCK_INVALID: { height: number, path: string, rule: string }
  DAISY_GENESIS_MISMATCH: { hash: string, expected: string }
  DAISY_READ_ONLY: { command: string }
  DAISY_STATE_FOREIGN: { state: string, source: string }
  DAISY_ADOPTION_MISMATCH: { field: string }
}

/** A Daisy data directory (daisy.db, chainparams.json, blocks/) is damaged or cannot be used as asked. */
export class DaisyError<C extends DaisyErrorCode = DaisyErrorCode> extends PetalError<C, DaisyErrorDetails[C]> {
  static readonly codes = DAISY_ERROR_CODES
}

function daisyErrorDocs (): Readonly<Record<DaisyErrorCode, CodeDoc>> {
  return {
    DAISY_DB_MISSING: { meaning: 'a directory laid out as Daisy\'s (blocks/0000/block_00000000.db) has no daisy.db, where Daisy keeps each block\'s hash and its seal (the block-hash signature, found nowhere else)', hint: 'restore daisy.db from a backup of the Daisy directory; `petal --dir DIR verify` then checks it' },
    DAISY_DB_INVALID: { meaning: 'daisy.db cannot be read, lacks Daisy\'s blockchain table, or its heights do not run 0, 1, 2, … (the message names the height)', hint: 'restore daisy.db from a backup of the Daisy directory' },
    DAISY_CHAINPARAMS_INVALID: { meaning: 'the Daisy directory\'s chainparams.json is not Daisy\'s chain definition (JSON with genesis_block_hash and genesis_block_hash_signature)', hint: 'restore the chainparams.json the chain was created or pulled with (a Daisy directory of the default chain has none)' },
    DAISY_BLOCK_MISSING: { meaning: 'daisy.db lists a block whose file is not in blocks/ (the message names the height and the path)', hint: 'put the block file back from a backup or another Daisy node (it must hash to the value daisy.db records)' },
    DAISY_HASH_MISMATCH: { meaning: 'a block file of the Daisy directory does not hash to the hash daisy.db records for its height: the file was changed or replaced', hint: 'put the original file back from a backup or another Daisy node; Petal never rewrites Daisy\'s files' },
    DAISY_BROKEN_LINK: { meaning: 'a Daisy block\'s PreviousBlockHash (or daisy.db\'s prev_hash) is not the hash of the block below it: the chain is broken at that height', hint: 'the blocks from that height up do not belong to this chain: restore them from a backup or another Daisy node' },
    DAISY_BLOCK_INVALID: { meaning: 'a block of the Daisy directory breaks Daisy\'s own (v1) rules though its file is the one daisy.db records: its structure, signer, signatures or key operations (`rule` names the block code, the message the height); a Daisy node would not have accepted it, so the directory was altered or written by something else', hint: 'restore the Daisy directory (daisy.db and blocks/) from a backup, or copy it again from a Daisy node that holds the chain; `petal --dir DIR verify` then checks it' },
    DAISY_GENESIS_MISMATCH: { meaning: 'the Daisy directory\'s genesis block is not the one its chainparams.json (or, without one, Daisy\'s default chain) names', hint: 'put back the chainparams.json this chain was created with, or the genesis block it names' },
    DAISY_READ_ONLY: { meaning: 'the command writes to its data directory, and Daisy directories are only read', hint: '`petal adopt-daisy DAISY_DIR --dir NEW` makes a Petal chain that continues the Daisy chain; run writing commands there' },
    DAISY_STATE_FOREIGN: { meaning: 'the --state directory holds Petal\'s derived state of another Daisy directory or is a Petal data directory', hint: 'give a --state of its own to each Daisy directory (or leave --state out for the default)' },
    DAISY_ADOPTION_MISMATCH: { meaning: 'an adopted chain\'s genesis commits to a Daisy history (tip hash, height, chain parameters) that its daisy/ directory does not hold', hint: 'put back the daisy/ directory adopt-daisy wrote (a copy of the Daisy directory it verified)' }
  }
}

registerErrorClass(DaisyError, 'a Daisy data directory is damaged or cannot be used as asked', daisyErrorDocs)
