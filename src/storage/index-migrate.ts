import type Database from 'better-sqlite3'
import { failpoint } from '../util/index.js'
import { BLOCK_COLUMNS, SCHEMA, SCHEMA_VERSION } from './index-records.js'

// chain.db of schema version 1 (`block_tables` keyed by the block's hash) moved to version 2
// (keyed by `blocks.id`): docs/data-directory.md, "chain.db".

/** The CREATE TABLE of `blocks` and `block_tables` in SCHEMA, the tables named `suffix`ed. */
function newTables (suffix: string): string {
  return SCHEMA.split(';').map(s => s.trim()).filter(s => /^CREATE TABLE IF NOT EXISTS (blocks|block_tables) /.test(s))
    .map(s => s.replace(/^CREATE TABLE IF NOT EXISTS (blocks|block_tables) /, `CREATE TABLE $1${suffix} `) + ';').join('\n')
}

/** blocks' indexes as SCHEMA makes them (on the renamed table). */
function blockIndexes (): string {
  return SCHEMA.split(';').map(s => s.trim()).filter(s => /^CREATE (UNIQUE )?INDEX IF NOT EXISTS \w+ ON blocks\(/.test(s)).join(';\n') + ';'
}

/**
 * Move an index of version 1 to version 2 in one transaction (SQLite's DDL is transactional: a kill
 * leaves the old layout or the new, never a mix). Both layouts of version 1 move: rowid tables
 * (since session 25; `blocks` keeps its rowids as `id`, so its rows keep their order) and WITHOUT
 * ROWID ones (before; ids given by height). `block_tables` is copied in (id, name) order. The two
 * indexes nothing reads (UNUSED_INDEXES) go with the old tables. Called by a writer's open only.
 */
export function migrateIndex (db: Database.Database): void {
  db.transaction(() => {
    // Looked at again inside the write transaction: another writer may have moved it meanwhile.
    if (db.prepare<[], string>("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get() !== '1') return
    const withoutRowid = db.prepare("SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = 'blocks'").pluck().get() === 1
    db.exec(newTables('_v2'))
    db.exec(withoutRowid
      ? `INSERT INTO blocks_v2 (${BLOCK_COLUMNS}) SELECT ${BLOCK_COLUMNS} FROM blocks ORDER BY height, canonical DESC, hash`
      : `INSERT INTO blocks_v2 (id, ${BLOCK_COLUMNS}) SELECT rowid, ${BLOCK_COLUMNS} FROM blocks ORDER BY rowid`)
    db.exec(`INSERT INTO block_tables_v2 (block, name, sql, rows, root)
      SELECT b.id, t.name, t.sql, t.rows, t.root FROM block_tables t JOIN blocks_v2 b ON b.hash = t.hash ORDER BY b.id, t.name`)
    failpoint('index-migrate:copied')
    db.exec('DROP TABLE block_tables; DROP TABLE blocks; ALTER TABLE blocks_v2 RENAME TO blocks; ALTER TABLE block_tables_v2 RENAME TO block_tables;')
    db.exec(blockIndexes())
    db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(SCHEMA_VERSION)
    failpoint('index-migrate:done')
  }).immediate()
}

/**
 * For a read-only connection to an index of version 1, which it must not write: temp views (which
 * unqualified names find before main's tables) that show it as version 2, the hash standing for
 * `blocks.id` (both layouts of version 1 key `block_tables` by hash; WITHOUT ROWID `blocks` has no
 * rowid). The statements of index-db.ts then read it unchanged.
 */
export class Version1View {
  /** data_version when the index was last found of version 1 outside a transaction. */
  private seen: number

  constructor (private readonly db: Database.Database) {
    db.exec(`CREATE TEMP VIEW blocks AS SELECT hash AS id, ${BLOCK_COLUMNS} FROM main.blocks;
      CREATE TEMP VIEW block_tables AS SELECT hash AS block, name, sql, rows, root FROM main.block_tables;`)
    this.seen = this.dataVersion()
  }

  /**
   * This view, or undefined once another process has moved the index to version 2 (a `petal serve`
   * left running while a newer Petal's node or pull opens it for writing): the views, which name the
   * old columns, are dropped, and the connection's statements read the new tables (SQLite prepares
   * them again; before, every read of a block's tables failed `no such column` until a restart).
   * Looked at only when another connection has committed; a transaction's older snapshot of
   * version 1 keeps the views, and the next call looks again.
   */
  follow (): Version1View | undefined {
    const now = this.dataVersion()
    if (now === this.seen) return this
    if (this.db.prepare<[], string>("SELECT value FROM main.meta WHERE key = 'schema_version'").pluck().get() === SCHEMA_VERSION) {
      this.db.exec('DROP VIEW temp.blocks; DROP VIEW temp.block_tables;')
      return undefined
    }
    if (!this.db.inTransaction) this.seen = now
    return this
  }

  private dataVersion (): number { return Number(this.db.pragma('data_version', { simple: true })) }
}
