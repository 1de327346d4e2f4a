import type { EncryptPolicy } from './encrypt-policy.js'
import type { RecordFormat } from './parse.js'
import type { IngestRow } from './values.js'

/** Where an acknowledged row is: pending, or sealed in a canonical block (the contract with src/api). */
export interface Receipt {
  id: string
  table: string
  state: 'pending' | 'sealed'
  /** RFC 3339: when append() made the row durable. */
  acceptedAt: string
  sealed?: {
    height: number
    blockHash: string
    table: string
    /** The row's rowid in that block, in decimal (exact). */
    rowid: string
    /** The block's timestamp (RFC 3339). */
    sealedAt: string
  }
  /** Set when the row cannot be sealed (it stays pending): the reason. Never expected. */
  problem?: string
}

export interface AppendResult {
  /** One receipt id per row, in order. */
  receipts: string[]
  table: string
  /** The table was created by this append. */
  created: boolean
  /** Columns this append added to the table. */
  addedColumns: string[]
}

export interface IngestStats {
  pendingRows: number
  pendingBytes: number
  /** Of the pending rows, those a seal has claimed and not ended (a seal at work, or one killed part-way). */
  claimedRows: number
  /** Age of the oldest pending row. */
  oldestPendingMs?: number
  /** Rows this process sealed since the service opened. */
  sealed: number
  /** Blocks this process sealed since the service opened. */
  sealedBlocks: number
  lastSeal?: { height: number, hash: string, rows: number, latencyMs: number }
}

export interface SealedEvent {
  height: number
  hash: string
  rows: number
  receipts: number
  /** From the arrival of the block's oldest row to its commit. */
  latencyMs: number
}

export interface RequeuedEvent {
  /** Rows whose block left the canonical chain; they will be sealed again. */
  rows: number
}

export interface AppendedEvent { table: string, rows: number }

export interface IngestEvents {
  sealed: SealedEvent
  requeued: RequeuedEvent
  /** Rows were made durable by this process. */
  appended: AppendedEvent
}

export interface IngestService {
  /** Declare a table with a CREATE TABLE statement (validated by SQLite, block schema rules). Idempotent for the same statement. */
  putTable: (name: string, createSql: string, encrypt?: { columns: unknown, recipients: unknown } | null) => Promise<{ created: boolean, sql: string, encrypt?: EncryptPolicy }>
  /** Durably store rows (fsync'd in pending.db) and return their receipts. Resolves only once durable. */
  append: (table: string, rows: IngestRow[], options?: { signal?: AbortSignal }) => Promise<AppendResult>
  /** Parse records (parseRecords: JSON, NDJSON, CSV; at most maxRows) and append them. */
  appendRecords: (table: string, input: Uint8Array, format: RecordFormat, options?: { maxRows?: number, signal?: AbortSignal }) => Promise<AppendResult>
  receipt: (id: string) => Receipt | undefined
  /** Seal pending rows now (one or more blocks, respecting max_block_bytes). Throws INGEST_NOT_SIGNATORY when the key is not active at the tip. */
  sealNow: (options?: { signal?: AbortSignal }) => Promise<{ blocks: Array<{ height: number, hash: string, rows: number }> }>
  stats: () => IngestStats
  on: <E extends keyof IngestEvents>(event: E, fn: (e: IngestEvents[E]) => void) => () => void
  close: () => Promise<void>
}
