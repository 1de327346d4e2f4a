import { PetalError } from '../util/index.js'

/**
 * Every reason the ingest service refuses or fails. Codes are stable API: the HTTP API derives its
 * status from them (400 input, 404 receipt, 409 state, 413 size, 422 type), the CLI its exit status.
 */
export type IngestErrorCode =
  // the input (400)
  | 'INGEST_MALFORMED'
  | 'INGEST_BAD_TABLE'
  | 'INGEST_BAD_COLUMN'
  // the rows against the table (422)
  | 'INGEST_TYPE_MISMATCH'
  | 'INGEST_CONSTRAINT'
  // sizes (413)
  | 'INGEST_TOO_MANY_ROWS'
  | 'INGEST_TOO_LARGE'
  | 'INGEST_ROW_TOO_LARGE'
  // state (409)
  | 'INGEST_TABLE_CONFLICT'
  | 'INGEST_NOT_SIGNATORY'
  | 'INGEST_NO_KEY'
  | 'INGEST_BLOCK_OWNED'
  | 'INGEST_ALREADY_SEALED'
  // lookups (404)
  | 'INGEST_UNKNOWN_RECEIPT'
  // the pending store itself
  | 'INGEST_STORE_UNAVAILABLE'
  | 'INGEST_CLOSED'

export class IngestError extends PetalError<IngestErrorCode> {}

/** A refusal that names the row (0-based) and field it is about. */
export function rowError (code: IngestErrorCode, row: number, field: string | undefined, message: string, o: { hint?: string, details?: Record<string, unknown> } = {}): IngestError {
  const where = field === undefined ? `row ${row}` : `row ${row}, field ${JSON.stringify(field)}`
  return new IngestError(code, `${where}: ${message}`, { hint: o.hint, details: { row, ...(field === undefined ? {} : { field }), ...o.details } })
}
