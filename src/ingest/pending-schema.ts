// pending.db's layout (see the PendingStore comment in store.ts) and its records as TypeScript values.

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tables (name TEXT PRIMARY KEY COLLATE NOCASE, sql TEXT NOT NULL, declared TEXT, created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, tbl TEXT NOT NULL, data BLOB NOT NULL, bytes INTEGER NOT NULL, at INTEGER NOT NULL, batch INTEGER, n INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS rows_batch ON rows (batch) WHERE batch IS NOT NULL;
CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY, state TEXT NOT NULL, hash TEXT, height INTEGER,
  rows INTEGER NOT NULL, bytes INTEGER NOT NULL, oldest_at INTEGER NOT NULL, claimed_at INTEGER NOT NULL, sealed_at INTEGER, pid INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS batches_hash ON batches (hash) WHERE hash IS NOT NULL;
CREATE INDEX IF NOT EXISTS batches_state ON batches (state, height);
CREATE TABLE IF NOT EXISTS placements (row INTEGER NOT NULL, batch INTEGER NOT NULL, rowid INTEGER NOT NULL, PRIMARY KEY (row, batch)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS placements_batch ON placements (batch);
CREATE TABLE IF NOT EXISTS problems (row INTEGER PRIMARY KEY, message TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reseals (block TEXT PRIMARY KEY, orphan TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reseals_origin ON reseals (origin);
CREATE TABLE IF NOT EXISTS encrypt_policies (name TEXT PRIMARY KEY COLLATE NOCASE, columns TEXT NOT NULL, recipients TEXT NOT NULL) WITHOUT ROWID;
`
/**
 * 3: an append's rows are one record of `n` rows, the id its last row's number (record-pack.ts);
 * 2: rows name their fields by column index (row-codec.ts); 1 names them. 1 and 2 are upgraded on
 * open (store-open.ts): their records are records of one row, as layout 3 reads them.
 */
export const LAYOUT = '3'
/** The `rows` column that layout 3 added: a store of layout 1 or 2 gets it at its upgrade. */
export const RECORD_ROWS_COLUMN = 'ALTER TABLE rows ADD COLUMN n INTEGER NOT NULL DEFAULT 1'

export type BatchState = 'claimed' | 'built' | 'sealed' | 'orphaned'

export interface Batch {
  id: number
  state: BatchState
  hash: string | null
  height: number | null
  rows: number
  bytes: number
  oldestAt: number
  claimedAt: number
  sealedAt: number | null
}

export interface BatchRow { id: number, state: BatchState, hash: string | null, height: number | null, rows: number, bytes: number, oldest_at: number, claimed_at: number, sealed_at: number | null }
export const toBatch = (r: BatchRow): Batch => ({ id: r.id, state: r.state, hash: r.hash, height: r.height, rows: r.rows, bytes: r.bytes, oldestAt: r.oldest_at, claimedAt: r.claimed_at, sealedAt: r.sealed_at })

export interface PendingRow { id: number, table: string, data: Buffer, bytes: number, at: number }

export interface Placement { batch: number, state: BatchState, hash: string | null, rowid: bigint }

/**
 * How to look whether rows whose commit may still be recorded were (commitWal's `look`): `petal
 * status` counts pending rows but cannot say which they are; rows are seen once sealed (review35).
 */
export const LOOK_PENDING = 'seal what is pending (`petal seal`; a running node seals by itself), then look for the rows in their table (`petal query`) before sending them again'
