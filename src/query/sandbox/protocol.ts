import type { SqlValue } from '../../block/index.js'
import type { SerializedError } from '../../util/index.js'
import type { ResultSummary, TextFormat } from '../format/formatters.js'
import type { DecryptRequest } from './confidential.js'

/** Export one table's rows across the chain (docs/queries.md, "Export"), in canonical order. */
export interface ExportRequest { table: string, from?: number, to?: number }

/** What an export will write, sent before its rows: the table as named, a CREATE TABLE for it, its row count. */
export interface ExportPlan { table: string, ddl: string, rows: number }

/** 'rows': raw values (bigint, number, string, Uint8Array, null) for programmatic callers. */
export type OutputFormat = TextFormat | 'rows'

/** Parent → child: run one statement. */
export interface RunRequest {
  type: 'run'
  mode: 'mirror' | 'per-block'
  sql: string
  /** The data directory (query.db, chain.db and the block files are found from it). */
  dataDir: string
  format: OutputFormat
  /** Fail with QUERY_TOO_MANY_ROWS when the result has more rows (undefined: no limit). */
  maxRows?: number
  /** Per-block mode: lowest and highest height to visit. */
  from?: number
  to?: number
  /** Decrypt the columns these keys open (undefined: decryption off, values stay ciphertext). */
  decrypt?: DecryptRequest
  /** Mirror mode: instead of `sql`, export this table. */
  export?: ExportRequest
}

/** Parent → child: one output chunk was consumed; the child may send more. */
export interface AckMessage { type: 'ack' }

export type ParentMessage = RunRequest | AckMessage

export type ChildMessage =
  | { type: 'ready' }
  // Around its code cache's write after a statement (child.ts): 'caching' comes before that
  // statement's answer, so the parent knows to let it finish before it kills the process.
  | { type: 'caching' }
  | { type: 'cached' }
  | { type: 'columns', columns: string[] }
  | { type: 'plan', plan: ExportPlan }
  | { type: 'text', text: string }
  | { type: 'rows', rows: SqlValue[][] }
  | { type: 'done', summary: ResultSummary }
  | { type: 'error', error: SerializedError }

/** Chunks the child may send before it waits for an ack: output is streamed, never piled up. */
export const WINDOW = 2
/** A chunk is sent when it holds this many rows or this many characters of text. */
export const CHUNK_ROWS = 2048
export const CHUNK_CHARS = 256 * 1024

/**
 * The sandbox's argument when it runs under a parent-death signal (fork.ts), followed by the
 * parent's pid. The sandbox then starts no watchdog thread of its own (child.ts).
 */
export const PARENT_DEATH_ARG = '--killed-with-parent='
