import { CHAIN_TREE_SCHEMA } from './chain-tree-table.js'
import { CHECKPOINT_SCHEMA } from './checkpoint-table.js'

// chain.db's tables, and the records IndexDb reads and writes them as.

/** One block known to the node, canonical or on a side branch. */
export interface BlockRecord {
  hash: string
  height: number
  parent: string
  canonical: boolean
  version: number
  signer: string
  timestamp: string
  rowsRoot: string
  /** hex DER `_meta.PreviousBlockHashSignature` */
  prevSig: string
  /** hex DER seal */
  seal: string
  size: number
  keyOpCount: number
  /** local time the block was stored (ms) */
  receivedAt: number
}

/** The key operations a block applies (one per target key). */
export interface KeyOpRecord { keyId: string, op: 'A' | 'R', pubkey: string, signers: string[] }

/** A signatory of the canonical chain with the heights that added and revoked it. */
export interface SignerRecord { keyId: string, pubkey: string, addedAt: number, revokedAt: number | null }

/** A canonical block's file as the index records it: height, hash, seal, size (IndexDb.canonicalFiles). */
export type CanonicalFile = [height: number, hash: string, seal: string, size: number]
/** IndexDb.storedFile's row: where a block's file is (canonical 1: by height, else by hash) and its seal and size. */
export type StoredFile = [height: number, canonical: number, seal: string, size: number]

/** One user table of a block (the query engine's catalog). */
export interface TableRecord { name: string, sql: string, rows: number, root: string }

/** A table as some canonical block declares it: its name, its CREATE TABLE text and that block. */
export interface TableVariant { name: string, sql: string, block: BlockRecord }

/** A canonical block with the CREATE TABLE texts of the tables asked for, by lower-case name. */
export interface BlockWithTables { block: BlockRecord, tables: Array<[name: string, sql: string]> }

/**
 * 3: `blocks` found by `hkey` (the hash's first digits as an integer); 2: by a unique index on the
 * hash's text; 1: `block_tables` keyed by hash, not by `blocks.id` (index-migrate.ts moves 1 and 2 to 3).
 */
export const SCHEMA_VERSION = '3'

/** The hash digits `hkey` holds: 13 hex digits, 52 bits, an integer JavaScript holds exactly, in the hash's order. */
export const HKEY_DIGITS = 13

/**
 * `blocks.hkey` of a hash: its first HKEY_DIGITS hex digits as an integer (-1 for text that does
 * not start with them, which no stored hash is). Several blocks may share one (a lookup compares
 * the whole hash too); a hash is found only under its own, since the function is the same for both.
 */
export function hashKey (hash: string): number {
  const head = hash.slice(0, HKEY_DIGITS)
  return head.length === HKEY_DIGITS && /^[0-9a-f]+$/.test(head) ? parseInt(head, 16) : -1
}

/** The `hkey` range of the hashes that start with `prefix` (lower-case hex): [lowest, highest]. */
export function hashKeyRange (prefix: string): [number, number] {
  const head = prefix.slice(0, HKEY_DIGITS)
  return [hashKey(head.padEnd(HKEY_DIGITS, '0')), hashKey(head.padEnd(HKEY_DIGITS, 'f'))]
}

/** The columns of `blocks` other than its `id`, in SCHEMA's order. */
export const BLOCK_COLUMNS = 'hash, height, parent, canonical, version, signer, timestamp, rows_root, prev_sig, seal, size, key_ops, received_at'

/**
 * Indexes of earlier schemas that no statement reads: each one cost a write at a random place for
 * every block (keyed by a hash), on catch-up's main thread. A new index is created without them;
 * reindex drops them from an older one (docs/performance/catchup.md, "Session 25: catch-up").
 */
/** The index on block_tables' names (since session 49); a writer adds it to an index of version 3 made before (completeVersion3). */
export const LATEST_INDEX = 'block_tables_latest'

export const UNUSED_INDEXES = ['blocks_parent', 'block_tables_name'] as const

/**
 * `blocks` is a rowid table (`id`, an INTEGER PRIMARY KEY: VACUUM keeps it) found by hash through
 * an index on `hkey` (hashKey: ~14-byte entries instead of the 64-digit text's ~75, so a commit's
 * random inserts dirty fewer pages; a hash stays unique by IndexDb.insertBlock's check);
 * `block_tables` is keyed by (`blocks.id`, name). Both take rows in the order blocks are placed, so
 * a group's rows fill the last pages, and only `blocks_hkey` is a write at a random page a block
 * (docs/performance/catchup.md, "Session 45: chain.db's block_tables in placement order (index45)",
 * and "Session 47: chain.db (index47)"). `block_tables_latest` (LATEST_INDEX) finds a table's
 * blocks by name: its entries of one name come in placement order too, so a block's write lands
 * at the end of each of its names' runs, not at a random page (IndexDb.latestTable).
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (id INTEGER PRIMARY KEY,
  hash TEXT NOT NULL, height INTEGER NOT NULL, parent TEXT NOT NULL, canonical INTEGER NOT NULL,
  version INTEGER NOT NULL, signer TEXT NOT NULL, timestamp TEXT NOT NULL, rows_root TEXT NOT NULL,
  prev_sig TEXT NOT NULL, seal TEXT NOT NULL, size INTEGER NOT NULL, key_ops INTEGER NOT NULL,
  received_at INTEGER NOT NULL, hkey INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS blocks_hkey ON blocks(hkey);
CREATE UNIQUE INDEX IF NOT EXISTS blocks_canonical_height ON blocks(height) WHERE canonical = 1;
CREATE INDEX IF NOT EXISTS blocks_side ON blocks(canonical, height);
CREATE TABLE IF NOT EXISTS block_tables (block INTEGER NOT NULL, name TEXT NOT NULL, sql TEXT NOT NULL,
  rows INTEGER NOT NULL, root TEXT NOT NULL, PRIMARY KEY (block, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS block_tables_latest ON block_tables(name COLLATE NOCASE, block);
CREATE TABLE IF NOT EXISTS key_ops (hash TEXT NOT NULL, key_id TEXT NOT NULL, op TEXT NOT NULL,
  pubkey TEXT NOT NULL, signers TEXT NOT NULL, PRIMARY KEY (hash, key_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signers (key_id TEXT PRIMARY KEY, pubkey TEXT NOT NULL,
  added_at INTEGER NOT NULL, revoked_at INTEGER) WITHOUT ROWID;
` + CHAIN_TREE_SCHEMA + CHECKPOINT_SCHEMA

export interface BlockRow {
  hash: string, height: number, parent: string, canonical: number, version: number, signer: string, timestamp: string,
  rows_root: string, prev_sig: string, seal: string, size: number, key_ops: number, received_at: number
}

export function toRecord (r: BlockRow): BlockRecord {
  return {
    hash: r.hash, height: r.height, parent: r.parent, canonical: r.canonical === 1, version: r.version, signer: r.signer,
    timestamp: r.timestamp, rowsRoot: r.rows_root, prevSig: r.prev_sig, seal: r.seal, size: r.size, keyOpCount: r.key_ops, receivedAt: r.received_at
  }
}
