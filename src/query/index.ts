/**
 * query: read-only SQL across all blocks — the query mirror (query.db: every canonical block's
 * tables unioned by name with `_height`, plus `_blocks` and `_tables`; reconciled with the index,
 * rolled back on reorgs, rebuildable), per-block (Daisy) mode planned from the chain's table
 * catalog, the sandbox process that runs statements read-only under a time limit, and the output
 * formats (NDJSON, CSV, table, JSON).
 *
 * Reads chain, storage and block; writes nothing but query.db, its checked copies of blocks
 * (private files in tmp/) and an SQLite export to the file its caller names. Must never write a
 * block file or chain.db, never run SQL text taken from a block, and never let a statement run
 * outside the sandbox process. Imported only by cli, node and api. Writes nothing to the terminal
 * and never exits the process. Gets its SQLite connections from storage (`openSqlite`) and opens
 * block files only through block's defensive openBlockReadonly or from hash-checked copies.
 * Known exception to importing through this index: the CLI loads `sandbox/fork.ts` (its start-up
 * router forks the sandbox before the command loads) and `sandbox/prestart.ts` (the hand-over of
 * that process) directly, so that neither loads the whole module (docs/architecture.md, "Known
 * violations").
 * @module
 */
export { QueryError } from './errors.js'
export { QueryMirror, type MirrorStop } from './mirror/mirror.js'
export type { SkippedBlock } from './mirror/apply.js'
export { QuerySandbox } from './sandbox/sandbox.js'
export type { ExportPlan, ExportRequest } from './sandbox/protocol.js'
export type { ConfidentialNote, DecryptRequest } from './sandbox/confidential.js'
export { exportTable, EXPORT_FORMATS, isExportFormat, type ExportFormat, type ExportOptions, type ExportResult } from './export.js'
export { createFormatter, isTextFormat, TEXT_FORMATS, type TextFormat } from './format/formatters.js'
export { escapeControls, jsonValue, csvField, realText, uniqueKeys } from './format/values.js'
export { readBlockRows } from './block-rows.js'
export { runQuery, syncQueryMirror, DEFAULT_TIMEOUT_MS, type QueryOptions, type QueryResult } from './engine.js'
