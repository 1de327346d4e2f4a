import { PetalError, quote, registerErrorClass, said, type CodeDoc, type PetalErrorArgs, type Said } from '../util/index.js'

/**
 * Every reason the ingest service refuses or fails. The HTTP status of each (400 input, 404
 * receipt, 409 state, 413 size, 422 type) and its exit status are in util/error-status.ts.
 */
export const INGEST_ERROR_CODES = [
  // the input (400)
  'INGEST_MALFORMED',
  'INGEST_BAD_TABLE',
  'INGEST_BAD_COLUMN',
  'INGEST_BAD_ENCRYPT',
  // the rows against the table (422)
  'INGEST_TYPE_MISMATCH',
  'INGEST_CONSTRAINT',
  // sizes (413)
  'INGEST_TOO_MANY_ROWS',
  'INGEST_TOO_LARGE',
  'INGEST_ROW_TOO_LARGE',
  // state (409)
  'INGEST_TABLE_CONFLICT',
  'INGEST_NOT_SIGNATORY',
  'INGEST_NO_KEY',
  'INGEST_BLOCK_OWNED',
  'INGEST_ALREADY_SEALED',
  // lookups (404)
  'INGEST_UNKNOWN_RECEIPT',
  // the pending store itself
  'INGEST_STORE_UNAVAILABLE',
  'INGEST_STORE_IN_USE',
  'INGEST_ROW_UNREADABLE',
  'INGEST_CLOSED'
] as const

export type IngestErrorCode = typeof INGEST_ERROR_CODES[number]

/** Where in the input a refused row is: its 0-based index and the field concerned. */
export interface RowPlace { row?: number, field?: string }

/** `details` of each code. */
export interface IngestErrorDetails {
  INGEST_MALFORMED: RowPlace & { line?: number }
  INGEST_BAD_TABLE: { table: string }
  /** `table` when the table is known; `row` and `limit` for a record of more fields than a table may have columns. */
  INGEST_BAD_COLUMN: { table?: string, row?: number, limit?: number }
  INGEST_BAD_ENCRYPT: { table: string }
  /** `sqlite` is SQLite's result code when SQLite refused the value. */
  INGEST_TYPE_MISMATCH: RowPlace & { table: string, column?: string, expected?: string, got?: string, sqlite?: string }
  INGEST_CONSTRAINT: RowPlace & { table: string, sqlite: string }
  INGEST_TOO_MANY_ROWS: { limit: number }
  INGEST_TOO_LARGE: { bytes: number, limit: number }
  INGEST_ROW_TOO_LARGE: RowPlace & { bytes: number, limit: number }
  /** `height`: the block whose definition the chain's table has, when it is the chain's that conflicts. */
  INGEST_TABLE_CONFLICT: { table: string, sql: string, height?: number }
  INGEST_NOT_SIGNATORY: { key: string, height: number }
  INGEST_NO_KEY: Record<never, never>
  INGEST_BLOCK_OWNED: { hash: string }
  INGEST_ALREADY_SEALED: { hash: string }
  INGEST_UNKNOWN_RECEIPT: { receipt: string }
  INGEST_STORE_UNAVAILABLE: Record<never, never>
  INGEST_STORE_IN_USE: Record<never, never>
  INGEST_ROW_UNREADABLE: Record<never, never>
  INGEST_CLOSED: Record<never, never>
}

export class IngestError<C extends IngestErrorCode = IngestErrorCode> extends PetalError<C, IngestErrorDetails[C]> {
  static readonly codes = INGEST_ERROR_CODES

  /** `err` is an IngestError; narrowing on its `code` then types its `details`. */
  static is (err: unknown): err is AnyIngestError {
    return err instanceof IngestError
  }
}

/**
 * INGEST_NO_KEY's hint where no key exists. A running node loads its key when it starts, so a key
 * made while it runs is used only after a restart (found by running the hint: review hints32).
 */
export const NO_KEY_HINT = 'create a key with `petal keygen` (a running node loads its key when it starts: restart it then), and have the signatories add the key (`petal signkey KEY --op add`, then `petal signimportblock --keyops`)'

/** An IngestError of any one code: `code` discriminates `details`. */
export type AnyIngestError = { [K in IngestErrorCode]: IngestError<K> }[IngestErrorCode]

/** The codes that refuse one row of the input. */
export type RowErrorCode = 'INGEST_MALFORMED' | 'INGEST_TYPE_MISMATCH' | 'INGEST_CONSTRAINT' | 'INGEST_ROW_TOO_LARGE'

/** A refusal that names the row (0-based) and field it is about. */
export function rowError<C extends RowErrorCode> (code: C, row: number, field: string | undefined, message: string | Said, ...[o]: PetalErrorArgs<Omit<IngestErrorDetails[C], keyof RowPlace>>): IngestError<RowErrorCode> {
  // the field's name, and the table's and column's, are the client's text (util/said.ts)
  const where = field === undefined ? said`row ${row}` : said`row ${row}, field ${quote(JSON.stringify(field))}`
  const details: IngestErrorDetails[RowErrorCode] = { ...o?.details, row, ...(field === undefined ? {} : { field }) }
  return new IngestError<RowErrorCode>(code, said`${where}: ${message}`, { hint: o?.hint, details, quoted: { details: ['field', 'table', 'column'] } })
}

function ingestErrorDocs (): Readonly<Record<IngestErrorCode, CodeDoc>> {
  return {
    INGEST_MALFORMED: { meaning: 'the records are not valid JSON, NDJSON or CSV, or a value cannot be written exactly (details name the row, field and line)', hint: 'docs/ingest.md lists the accepted formats and values' },
    INGEST_BAD_TABLE: { meaning: 'the table name, or its CREATE TABLE statement, is not one Petal accepts', hint: 'use a letter, then letters, digits or _ (1 to 64 characters), and a plain CREATE TABLE within the block schema rules' },
    INGEST_BAD_ENCRYPT: { meaning: 'a table\'s encrypt policy cannot be applied: an unknown column, the INTEGER PRIMARY KEY, a WITHOUT ROWID table, a STRICT type that cannot hold a BLOB, no or malformed recipients, or recipients that differ from another encrypted table\'s', hint: 'name columns of the declared table and give recipients as hex SPKI or PEM public keys (docs/confidential.md, "Record API")' },
    INGEST_BAD_COLUMN: { meaning: 'a field name cannot be a column of the table (reserved, too long, or too many columns)', hint: 'rename or drop the field' },
    INGEST_TYPE_MISMATCH: { meaning: 'a value does not fit the type of its column', hint: 'send the column\'s type; the error names the row, field and expected type' },
    INGEST_CONSTRAINT: { meaning: 'the table refuses a row: a NOT NULL, CHECK, UNIQUE or other constraint failed', hint: 'fix the row; the error names it and the table\'s declaration' },
    INGEST_TOO_MANY_ROWS: { meaning: 'more rows than one request accepts', hint: 'split the input into smaller requests' },
    INGEST_TOO_LARGE: { meaning: 'the input is larger than one request accepts', hint: 'split the input into smaller requests' },
    INGEST_ROW_TOO_LARGE: { meaning: 'a row cannot fit in a block of this chain (max_block_bytes)', hint: 'store large content elsewhere and write its digest, or split it over rows' },
    INGEST_TABLE_CONFLICT: { meaning: 'a table of that name already exists with another definition', hint: 'write to that table with its existing columns, or use another table name' },
    INGEST_NOT_SIGNATORY: { meaning: 'this node\'s key is not an active signatory at the tip, so it cannot seal records', hint: 'write to a signatory node, or have the signatories add this key (`petal signkey`, then `signimportblock --keyops`)' },
    INGEST_NO_KEY: { meaning: 'this node has no signing key loaded, so it cannot seal records into blocks', hint: 'create a key with `petal keygen`, or give the passphrase of its key (--passphrase-file or PETAL_PASSPHRASE); a running node loads its key when it starts: restart it then' },
    INGEST_BLOCK_OWNED: { meaning: 'the orphaned block holds records sealed by the ingest service, which re-seals them itself', hint: 'run `petal seal` (or keep a node running) to re-seal its rows' },
    INGEST_ALREADY_SEALED: { meaning: 'rows of the batch being sealed are already in a canonical block (the seal is not repeated)', hint: 'nothing to do: those rows are on the chain already' },
    INGEST_UNKNOWN_RECEIPT: { meaning: 'no receipt with that id in this data directory', hint: 'a receipt is answered by the data directory that issued it (give it with --dir)' },
    INGEST_STORE_UNAVAILABLE: { meaning: 'the pending store (pending.db) cannot be opened or read: damaged, not readable by this user, or kept locked by another process past the busy wait (the message says which)', hint: 'pending.db holds acknowledged rows that are not in a block yet: do not delete it; check the directory is writable by this user' },
    INGEST_STORE_IN_USE: { meaning: 'pending.db is of an older layout and another process holds node.lock (a node or a pull) or seal.lock (a `petal seal` of an older Petal): it is upgraded only under both, since an older node or seal reads the layout once, at its open, and would take the new records for rows of its own', hint: 'run the command again when the pull or the older `petal seal` has ended; if a node of an older Petal runs on this data directory, stop it and start it with this version of Petal (it upgrades pending.db itself)' },
    INGEST_ROW_UNREADABLE: { meaning: 'a pending row cannot be decoded: written by a newer Petal, or the file is damaged (the row stays pending, it is not set aside)', hint: 'run every process on this data directory (node, `petal append`, `petal seal`) with the same version of Petal; do not delete pending.db' },
    INGEST_CLOSED: { meaning: 'the ingest service is shutting down', hint: 'retry once the node is back' }
  }
}

registerErrorClass(IngestError, 'records were refused, or could not be sealed into a block', ingestErrorDocs)
