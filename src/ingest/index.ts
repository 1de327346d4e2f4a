/**
 * ingest: the pending store and the sealing policy — rows in, blocks out, receipts. Parses
 * records (JSON, NDJSON, CSV) exactly, types them against table schemas that SQLite validates,
 * makes them durable in `pending.db` before acknowledging them, seals them into blocks through
 * the same build and validation path as `signimportblock`, and keeps every acknowledged row in
 * exactly one canonical block across crashes and reorgs (docs/ingest.md).
 *
 * May import chain and below; never network, sync, query or api. Owns `pending.db` and
 * `seal.lock`. Never prints.
 * @module
 */
export { IngestError, INGEST_ERROR_CODES, type IngestErrorCode, type IngestErrorDetails, type AnyIngestError } from './errors.js'
export * from './values.js'
export * from './types.js'
export { parseRecords, detectFormat, RECORD_FORMATS, DEFAULT_MAX_ROWS, type RecordFormat, type ParseLimits } from './parse.js'
export { declareTable, extendTable, checkTableName, type TableSchema, type Column, type ColumnKind } from './schema.js'
export { typeRows } from './typing.js'
export { Ingest, type IngestOptions, type SealPolicy, type SealProgress } from './service.js'
export { SealLoop, DEFAULT_SEAL_EVERY_MS, DEFAULT_SEAL_POLL_MS, type SealLoopOptions } from './seal-loop.js'
export type { SealedBlock, ReconcileResult } from './sealer.js'
export { buildRecordsFile } from './records-file.js'
