/** The `_meta.PreviousBlockHash` of every genesis block (Daisy's constant). */
export const GENESIS_PREVIOUS_HASH = '1000000000000000000000000000000000000000000000000000000000000001'

export const BLOCK_VERSION = 2

/** Tables Petal owns inside a block; user tables may not start with `_`. */
export const RESERVED_TABLES = ['_meta', '_keys', '_tables'] as const

/** Column names the query engine adds to user tables; user tables may not use them. */
export const RESERVED_COLUMNS = ['_height'] as const

// The exact DDL of v2 reserved tables, compared byte for byte against sqlite_schema.sql.
export const META_DDL = 'CREATE TABLE _meta (key TEXT PRIMARY KEY, value TEXT)'
export const KEYS_DDL = 'CREATE TABLE _keys (op TEXT NOT NULL, pubkey_hash TEXT NOT NULL, pubkey TEXT NOT NULL, sigkey_hash TEXT NOT NULL, signature TEXT NOT NULL, metadata TEXT, PRIMARY KEY (pubkey_hash, sigkey_hash))'
export const TABLES_DDL = 'CREATE TABLE _tables (name TEXT PRIMARY KEY NOT NULL, sql TEXT NOT NULL, rows INTEGER NOT NULL, root TEXT NOT NULL)'
/**
 * Wrapped data keys of a block with encrypted columns (docs/confidential.md). Optional: only such
 * blocks have it. In v1 (Daisy) blocks the name is an ordinary user table.
 */
export const RECIPIENTS_TABLE = '_recipients'
export const RECIPIENTS_DDL = 'CREATE TABLE _recipients (block TEXT NOT NULL, recipient TEXT NOT NULL, pubkey TEXT NOT NULL, wrapped BLOB NOT NULL, columns TEXT NOT NULL, PRIMARY KEY (block, recipient))'

/** Columns of `_keys` in order, for v1 (Daisy) and v2 alike. */
export const KEYS_COLUMNS = ['op', 'pubkey_hash', 'pubkey', 'sigkey_hash', 'signature', 'metadata'] as const

/** Upper bound on user tables per block: bounds per-block work for validators and the query catalog. */
export const MAX_USER_TABLES = 1000

/** Internal SQLite tables a block may carry (AUTOINCREMENT counters, ANALYZE statistics). */
export const ALLOWED_SQLITE_TABLES = new Set(['sqlite_sequence', 'sqlite_stat1', 'sqlite_stat4'])

export const QUORUM_RULES = ['daisy', 'daisy-capped', 'majority'] as const
export type QuorumRule = typeof QUORUM_RULES[number]

export function isQuorumRule (v: unknown): v is QuorumRule {
  return QUORUM_RULES.some(r => r === v)
}

/**
 * Bounds of the consensus limits a genesis commits to (inclusive). max_block_bytes also bounds
 * what a node downloads from a peer whose chain parameters it has not yet checked (pull), so it
 * cannot be unbounded.
 */
export const CONSENSUS_BOUNDS = {
  maxBlockBytes: { min: 4096, max: 2 ** 32 },
  maxReorgDepth: { min: 0, max: 2 ** 31 }
} as const
