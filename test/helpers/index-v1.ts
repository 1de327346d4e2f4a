import Database from 'better-sqlite3'

// chain.db of schema version 1 (before session 45): `block_tables` keyed by the block's hash, as
// rowid tables (sessions 25-44) or WITHOUT ROWID ones (before session 25).

const COLUMNS = 'hash, height, parent, canonical, version, signer, timestamp, rows_root, prev_sig, seal, size, key_ops, received_at'

function v1Tables (withoutRowid: boolean): string {
  const wr = withoutRowid ? ' WITHOUT ROWID' : ''
  return `CREATE TABLE blocks_v1 (
    hash TEXT NOT NULL ${withoutRowid ? 'PRIMARY KEY' : 'UNIQUE'}, height INTEGER NOT NULL, parent TEXT NOT NULL, canonical INTEGER NOT NULL,
    version INTEGER NOT NULL, signer TEXT NOT NULL, timestamp TEXT NOT NULL, rows_root TEXT NOT NULL,
    prev_sig TEXT NOT NULL, seal TEXT NOT NULL, size INTEGER NOT NULL, key_ops INTEGER NOT NULL,
    received_at INTEGER NOT NULL)${wr};
  CREATE TABLE block_tables_v1 (hash TEXT NOT NULL, name TEXT NOT NULL, sql TEXT NOT NULL,
    rows INTEGER NOT NULL, root TEXT NOT NULL, ${withoutRowid ? 'PRIMARY KEY' : 'UNIQUE'} (hash, name))${wr};`
}

/**
 * Rewrite the index at `path` (of the current version) as version 1 would have held the same rows,
 * in one transaction; with `withoutRowid`, in the layout from before session 25 (with its two
 * indexes nothing reads). Rows keep their order (blocks.id).
 */
export function rewriteAsVersion1 (path: string, withoutRowid = false): void {
  const db = new Database(path)
  try {
    db.transaction(() => {
      db.exec(v1Tables(withoutRowid))
      db.exec(`INSERT INTO blocks_v1 (${COLUMNS}) SELECT ${COLUMNS} FROM blocks ORDER BY id;
        INSERT INTO block_tables_v1 SELECT b.hash, t.name, t.sql, t.rows, t.root FROM block_tables t JOIN blocks b ON b.id = t.block ORDER BY t.block, t.name;
        DROP TABLE block_tables; DROP TABLE blocks;
        ALTER TABLE blocks_v1 RENAME TO blocks; ALTER TABLE block_tables_v1 RENAME TO block_tables;
        CREATE UNIQUE INDEX blocks_canonical_height ON blocks(height) WHERE canonical = 1;
        CREATE INDEX blocks_side ON blocks(canonical, height);
        UPDATE meta SET value = '1' WHERE key = 'schema_version';`)
      if (withoutRowid) db.exec('CREATE INDEX blocks_parent ON blocks(parent); CREATE INDEX block_tables_name ON block_tables(name);')
    })()
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
}

/**
 * Rewrite the index at `path` (of the current version) as version 2 (sessions 45-46) would have
 * held the same rows: `blocks` without `hkey`, found by a unique index on the hash's text.
 */
export function rewriteAsVersion2 (path: string): void {
  const db = new Database(path)
  try {
    db.transaction(() => {
      db.exec(`CREATE TABLE blocks_v2 (id INTEGER PRIMARY KEY,
          hash TEXT NOT NULL UNIQUE, height INTEGER NOT NULL, parent TEXT NOT NULL, canonical INTEGER NOT NULL,
          version INTEGER NOT NULL, signer TEXT NOT NULL, timestamp TEXT NOT NULL, rows_root TEXT NOT NULL,
          prev_sig TEXT NOT NULL, seal TEXT NOT NULL, size INTEGER NOT NULL, key_ops INTEGER NOT NULL,
          received_at INTEGER NOT NULL);
        INSERT INTO blocks_v2 (id, ${COLUMNS}) SELECT id, ${COLUMNS} FROM blocks ORDER BY id;
        DROP TABLE blocks; ALTER TABLE blocks_v2 RENAME TO blocks;
        CREATE UNIQUE INDEX blocks_canonical_height ON blocks(height) WHERE canonical = 1;
        CREATE INDEX blocks_side ON blocks(canonical, height);
        UPDATE meta SET value = '2' WHERE key = 'schema_version';`)
    })()
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
}

/** What chain.db holds of blocks and their tables, by hash, in either version (no ids, no arrival times). */
export function blocksDump (path: string): { blocks: unknown[], tables: unknown[], version: string } {
  const db = new Database(path, { readonly: true })
  try {
    const v2 = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get() as string
    return {
      version: v2,
      blocks: db.prepare(`SELECT ${COLUMNS.replace(', received_at', '')} FROM blocks ORDER BY hash`).all(),
      tables: db.prepare(v2 === '1'
        ? 'SELECT hash, name, sql, rows, root FROM block_tables ORDER BY hash, name'
        : 'SELECT b.hash, t.name, t.sql, t.rows, t.root FROM block_tables t JOIN blocks b ON b.id = t.block ORDER BY b.hash, t.name').all()
    }
  } finally {
    db.close()
  }
}
