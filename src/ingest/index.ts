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
export { IngestError, type AnyIngestError } from './errors.js'
export { isTextRows, type IngestRow } from './values.js'
export type { AppendResult, Receipt, IngestService } from './types.js'
export { parseRecords, detectFormat, RECORD_FORMATS, type RecordFormat } from './parse.js'
export { Ingest, type SealPolicy } from './service.js'
export { receiptCount, receiptsBody } from './receipt-range.js'
export { SealLoop, DEFAULT_SEAL_EVERY_MS, type SealLoopOptions } from './seal-loop.js'
export { nextSealMs, readPendingSummary, type PendingSummary } from './pending-summary.js'
export { buildRecordsFile } from './records-file.js'
export { orphanJudging, ResealRecord, type OrphanJudging } from './reseal-record.js'
