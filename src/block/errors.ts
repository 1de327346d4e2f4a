import { statSync, type Stats } from 'node:fs'
import { errorCode, PetalError, registerErrorClass, type CodeDoc } from '../util/index.js'

/**
 * Every reason a block can be refused. Codes are stable API: tests assert them, the network maps
 * them to peer penalties, the CLI to exit statuses. Structural codes come from this module;
 * contextual ones (link, signer, quorum) are raised by the chain's validation pipeline.
 */
export const BLOCK_ERROR_CODES = [
  // input file (signimportblock, import)
  'FILE_NOT_FOUND',
  'NOT_REGULAR_FILE',
  'EMPTY_BLOCK',
  // structure of the SQLite file
  'BLOCK_TOO_LARGE',
  'NOT_SQLITE',
  'WAL_MODE',
  'CORRUPT',
  'SCHEMA_NOT_ALLOWED',
  'RESERVED_SCHEMA',
  // confidential columns
  'RECIPIENTS_MALFORMED',
  'CIPHERTEXT_MALFORMED',
  'ENCRYPT_REFUSED',
  // content
  'HASH_MISMATCH',
  'UNSUPPORTED_VERSION',
  'BAD_META',
  'MANIFEST_MISMATCH',
  'ROWS_ROOT_MISMATCH',
  // position in the chain
  'PARENT_UNKNOWN',
  'HEIGHT_MISMATCH',
  'CHAIN_ID_MISMATCH',
  'TIMESTAMP_BEFORE_PARENT',
  'TIMESTAMP_IN_FUTURE',
  // signer and signatures
  'SIGNER_NOT_AUTHORISED',
  'SIGNER_REVOKED',
  'BAD_PREV_SIGNATURE',
  'BAD_SEAL',
  // key operations
  'KEYOP_MALFORMED',
  'KEYOP_KEY_NOT_CANONICAL',
  'KEYOP_MIXED',
  'KEYOP_BAD_SIGNATURE',
  'KEYOP_SIGNER_NOT_AUTHORISED',
  'KEYOP_SIGNER_REVOKED',
  'KEYOP_DUPLICATE_SIGNER',
  'KEYOP_QUORUM_NOT_MET',
  'KEYOP_KEY_EXISTS',
  'KEYOP_KEY_REVOKED',
  'KEYOP_KEY_UNKNOWN',
  'KEYOP_NO_SIGNERS_LEFT',
  // genesis
  'BAD_GENESIS'
] as const

export type BlockErrorCode = typeof BLOCK_ERROR_CODES[number]

/** Where in a chain the block sits, when the thrower knows (verify and reindex add the height). */
interface At { height?: number, hash?: string }
/** A key operation of the block at `height`, on target key `key`. */
interface KeyAt { height: number, key: string }

/** `details` of each code. */
export interface BlockErrorDetails {
  FILE_NOT_FOUND: At
  NOT_REGULAR_FILE: { path: string }
  EMPTY_BLOCK: Record<never, never>
  BLOCK_TOO_LARGE: At & { size: number, maxBytes: number }
  NOT_SQLITE: At
  WAL_MODE: At
  CORRUPT: At & { sqliteCode?: string }
  SCHEMA_NOT_ALLOWED: At
  RESERVED_SCHEMA: At & { table: string }
  RECIPIENTS_MALFORMED: At
  /** the encrypted column holding a value that is not a sealed value */
  CIPHERTEXT_MALFORMED: At & { table: string, column: string }
  ENCRYPT_REFUSED: Record<never, never>
  HASH_MISMATCH: At & { hash: string, expected: string }
  UNSUPPORTED_VERSION: At
  /** `key`: the `_meta` key at fault (absent when the table as a whole is) */
  BAD_META: At & { key?: string }
  MANIFEST_MISMATCH: At & { table?: string }
  ROWS_ROOT_MISMATCH: At
  PARENT_UNKNOWN: At & { parent: string }
  HEIGHT_MISMATCH: { height: number, parentHeight: number }
  CHAIN_ID_MISMATCH: At & { chainId: string }
  TIMESTAMP_BEFORE_PARENT: { height: number }
  TIMESTAMP_IN_FUTURE: { height: number }
  SIGNER_NOT_AUTHORISED: At & { signer: string }
  SIGNER_REVOKED: At & { signer: string, revokedAt: number }
  BAD_PREV_SIGNATURE: { height: number }
  BAD_SEAL: { height: number, hash: string }
  /** `row`: index of the `_keys` row at fault */
  KEYOP_MALFORMED: At & { row?: number }
  KEYOP_KEY_NOT_CANONICAL: At & { row: number }
  KEYOP_MIXED: KeyAt
  KEYOP_BAD_SIGNATURE: KeyAt & { signer: string }
  KEYOP_SIGNER_NOT_AUTHORISED: KeyAt & { signer: string }
  KEYOP_SIGNER_REVOKED: KeyAt & { signer: string }
  KEYOP_DUPLICATE_SIGNER: At & { key: string, signer: string }
  KEYOP_QUORUM_NOT_MET: KeyAt & { quorum: number, have: number }
  KEYOP_KEY_EXISTS: KeyAt
  KEYOP_KEY_REVOKED: KeyAt
  KEYOP_KEY_UNKNOWN: KeyAt
  KEYOP_NO_SIGNERS_LEFT: { height: number }
  BAD_GENESIS: At
}

export class BlockError<C extends BlockErrorCode = BlockErrorCode> extends PetalError<C, BlockErrorDetails[C]> {
  static readonly codes = BLOCK_ERROR_CODES

  /** `err` is a BlockError; narrowing on its `code` then types its `details`. */
  static is (err: unknown): err is AnyBlockError {
    return err instanceof BlockError
  }
}

/** A BlockError of any one code: `code` discriminates `details`. */
export type AnyBlockError = { [K in BlockErrorCode]: BlockError<K> }[BlockErrorCode]

/** What each code means and what to do about it (docs/errors.md is generated from this). */
function blockErrorDocs (): Readonly<Record<BlockErrorCode, CodeDoc>> {
  return {
    FILE_NOT_FOUND: { meaning: 'the file to seal or import does not exist', hint: 'check the path' },
    NOT_REGULAR_FILE: { meaning: 'the file to seal or import is a pipe, a device, a socket or a directory, not a regular file (a stream reads as an empty database)', hint: 'save the stream to a file first (`cat … > data.db`) and give that file' },
    EMPTY_BLOCK: { meaning: 'the block would hold no user table and no key operation', hint: 'give a file with tables, or pass --allow-empty if an empty block is what you want' },
    BLOCK_TOO_LARGE: { meaning: 'the file is larger than the chain\'s max_block_bytes', hint: 'split the data over several blocks' },
    NOT_SQLITE: { meaning: 'the file is not an SQLite 3 database Petal accepts (header, page size, encoding, reserved bytes)', hint: 'a block must be an SQLite 3 database file' },
    WAL_MODE: { meaning: 'the database is in WAL journal mode, or has a -wal file with data not yet in it', hint: "checkpoint it and switch it to a rollback journal: sqlite3 FILE 'PRAGMA journal_mode=DELETE'" },
    CORRUPT: { meaning: 'SQLite cannot read the file: quick_check fails (or integrity_check of a reserved table), its length disagrees with its header, or it has a hot journal', hint: 'repair it (sqlite3 .recover), or fetch the block again from a peer' },
    SCHEMA_NOT_ALLOWED: { meaning: 'the schema has something a block may not hold: a view, trigger, virtual or generated column, a reserved name, too many tables', hint: 'the message names the object; a block holds ordinary tables and indexes only' },
    RESERVED_SCHEMA: { meaning: 'a reserved table (_meta, _keys, _tables, _recipients) is missing or has the wrong shape', hint: 'drop the table from the input file, or give it exactly the documented columns (docs/block-format.md)' },
    RECIPIENTS_MALFORMED: { meaning: 'a _recipients row is malformed (block reference, key id, public key, wrapped key, encrypted columns), or the genesis carries encrypted columns', hint: 'blocks with encrypted columns are written by `petal signimportblock --encrypt` (docs/confidential.md)' },
    CIPHERTEXT_MALFORMED: { meaning: 'a value of an encrypted column is not a sealed value (a BLOB: version 1, nonce, ciphertext, tag)', hint: 'the block\'s signatory wrote plaintext or garbage into an encrypted column; details name it' },
    ENCRYPT_REFUSED: { meaning: 'columns to encrypt cannot be: no such table or column, a WITHOUT ROWID table, the INTEGER PRIMARY KEY, a type that cannot hold a BLOB, no recipient, or a genesis block', hint: 'name columns as TABLE.COLUMN of a rowid table in the file and give at least one --recipient (docs/confidential.md)' },
    HASH_MISMATCH: { meaning: 'the file does not hash to the hash it was announced or asked for', hint: 'the file is not the block you meant; fetch it again' },
    UNSUPPORTED_VERSION: { meaning: 'the block\'s _meta.Version is not one this Petal reads, or a v1 (Daisy) block was offered to a v2 chain', hint: 'this Petal reads block versions 1 (Daisy) and 2, and imports version 2' },
    BAD_META: { meaning: 'a _meta field is missing, malformed or not allowed here (details.key names it)', hint: 'blocks are written by `petal signimportblock`; a hand-made _meta must follow docs/block-format.md' },
    MANIFEST_MISMATCH: { meaning: '_tables does not describe the block\'s user tables (names, DDL, row counts or Merkle roots)', hint: 'the block was altered after it was sealed' },
    ROWS_ROOT_MISMATCH: { meaning: '_meta.RowsRoot is not the Merkle root of _tables', hint: 'the block was altered after it was sealed' },
    PARENT_UNKNOWN: { meaning: 'the block\'s parent is not known here (yet)', hint: 'import or fetch the parent first; a running node fetches it by itself' },
    HEIGHT_MISMATCH: { meaning: 'the block\'s height is not its parent\'s plus one', hint: 'the block was altered or built on another parent: it cannot join this chain' },
    CHAIN_ID_MISMATCH: { meaning: 'the block or endorsement belongs to another chain', hint: 'endorsements are made with `petal signkey` on the chain they are for' },
    TIMESTAMP_BEFORE_PARENT: { meaning: 'the block\'s timestamp is earlier than its parent\'s', hint: 'the signer\'s clock ran behind its parent\'s: the block cannot join this chain; its rows can be sealed again in a new block' },
    TIMESTAMP_IN_FUTURE: { meaning: 'the block\'s timestamp is more than 5 minutes ahead of this node\'s clock', hint: 'check the clocks of this node and of the block\'s signer' },
    SIGNER_NOT_AUTHORISED: { meaning: 'the block is signed by a key that is not a signatory at its parent', hint: 'a key becomes a signatory only through a block whose _keys adds it (`petal signkey`)' },
    SIGNER_REVOKED: { meaning: 'the block is signed by a key revoked at or before its parent', hint: 'sign with an active signatory key (`petal signers`)' },
    BAD_PREV_SIGNATURE: { meaning: '_meta.PreviousBlockHashSignature does not verify with the signer\'s key', hint: 'the block was altered, or signed by another key than its _meta names: it cannot join this chain' },
    BAD_SEAL: { meaning: 'the block\'s seal (.sig) does not verify with the signer\'s key', hint: 'the seal belongs to another block, or the block was altered' },
    KEYOP_MALFORMED: { meaning: 'a _keys row or an endorsement file is malformed', hint: 'give the endorsement file written by `petal signkey`' },
    KEYOP_KEY_NOT_CANONICAL: { meaning: 'a _keys row names a key in another encoding than its canonical SPKI (a second identity for the same key)', hint: 'endorse the key in its canonical encoding, as `petal mykeys` prints it' },
    KEYOP_MIXED: { meaning: 'one block both adds and revokes the same key', hint: 'add and revoke the key in two separate blocks' },
    KEYOP_BAD_SIGNATURE: { meaning: 'an endorsement\'s signature does not verify with its signer\'s key', hint: 'the endorsement was made for another key or chain, or altered: make it again with the signer\'s key (`petal signkey`)' },
    KEYOP_SIGNER_NOT_AUTHORISED: { meaning: 'an endorsement is by a key that is not a signatory at the block\'s parent', hint: 'keys added in a block can endorse only from the next block on' },
    KEYOP_SIGNER_REVOKED: { meaning: 'an endorsement is by a revoked key', hint: 'only active signatories endorse (`petal signers` lists them): have one of them endorse instead' },
    KEYOP_DUPLICATE_SIGNER: { meaning: 'the same signatory endorses the same key twice', hint: 'give each endorsement once' },
    KEYOP_QUORUM_NOT_MET: { meaning: 'a key operation has fewer endorsements from distinct signatories than the quorum rule asks', hint: 'collect more endorsements (`petal signkey` by other signatories) and include them all' },
    KEYOP_KEY_EXISTS: { meaning: 'the key to add is already a signatory', hint: 'the key is a signatory already (`petal signers` lists them): leave the addition out' },
    KEYOP_KEY_REVOKED: { meaning: 'the key was revoked: it cannot be revoked again or added back', hint: 'generate a new key' },
    KEYOP_KEY_UNKNOWN: { meaning: 'the key to revoke is not a signatory', hint: 'only a signatory can be revoked (`petal signers` lists them): check the key id' },
    KEYOP_NO_SIGNERS_LEFT: { meaning: 'the block would revoke every signatory, and the chain could never change again', hint: 'add a new signatory before revoking the last one' },
    BAD_GENESIS: { meaning: 'a genesis block breaks a genesis rule (height 0, consensus parameters, keys added by its creator only)', hint: 'this is not a valid chain: make one with `petal newchain`, or fetch the chain again with `petal pull`' }
  }
}

registerErrorClass(BlockError, 'a block was refused: its file, content, place in the chain, signatures or key operations', blockErrorDocs)

/** Codes that say the block is bad in itself (the sender is at fault), not that we lack context. */
export function isInvalidBlock (code: BlockErrorCode): boolean {
  return code !== 'PARENT_UNKNOWN' && code !== 'FILE_NOT_FOUND' && code !== 'TIMESTAMP_IN_FUTURE' && code !== 'NOT_REGULAR_FILE'
}

/**
 * Refuse anything but a regular file (following links: the user's own file may be one) before it
 * is opened: a pipe or a device reads as an empty or endless stream, and opening a named pipe
 * blocks until someone writes to it.
 */
export function checkRegularInput (path: string, what = 'input'): void {
  let st: Stats
  try {
    st = statSync(path)
  } catch (err) {
    if (errorCode(err) === 'ENOENT') throw new BlockError('FILE_NOT_FOUND', `no such file: ${path}`, { hint: 'check the path' })
    throw err
  }
  if (st.isFile()) return
  const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a pipe' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a regular file'
  throw new BlockError('NOT_REGULAR_FILE', `${what} ${path} is ${kind}, not a regular file`, {
    hint: st.isDirectory() ? 'give the SQLite file itself' : 'an SQLite database must be a file that can be read more than once: save the stream to a file first (e.g. `cat … > data.db`) and give that file',
    details: { path }
  })
}
