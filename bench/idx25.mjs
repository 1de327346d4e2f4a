// chain.db's writes in a catch-up, alone (docs/performance/catchup.md, "Session 25: catch-up"): the rows of
// a cached chain's index inserted into a fresh index in groups of 128, one transaction each
// (synchronous NORMAL, WAL, SQLite's automatic checkpoints), as placement writes them, with the
// chain tree's leaves. On the built dist/ (`npm run build`):
//   node bench/idx25.mjs SRC/chain.db OUT.db current|old|lean [N]
// `current`: dist's schema (blocks found by `hkey` since session 47, the hash's first digits: hashKey);
// `old`: the schema before session 25 (blocks and block_tables WITHOUT ROWID keyed by hash, indexes
// on parent and on name); `lean`: `old` without those two indexes.
// Prints CPU per block; run it under strace -c or valgrind for calls or instructions.
import Database from 'better-sqlite3'
import { rmSync } from 'node:fs'
import { hashKey, SCHEMA } from '../dist/storage/index-records.js'
import { ChainTreeTable } from '../dist/storage/chain-tree-table.js'

const [src, out, variant, nArg] = process.argv.slice(2)
const N = Number(nArg ?? 10000)
const OLD_BLOCKS = `CREATE TABLE IF NOT EXISTS blocks (
  hash TEXT PRIMARY KEY, height INTEGER NOT NULL, parent TEXT NOT NULL, canonical INTEGER NOT NULL,
  version INTEGER NOT NULL, signer TEXT NOT NULL, timestamp TEXT NOT NULL, rows_root TEXT NOT NULL,
  prev_sig TEXT NOT NULL, seal TEXT NOT NULL, size INTEGER NOT NULL, key_ops INTEGER NOT NULL,
  received_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS block_tables (hash TEXT NOT NULL, name TEXT NOT NULL, sql TEXT NOT NULL,
  rows INTEGER NOT NULL, root TEXT NOT NULL, PRIMARY KEY (hash, name)) WITHOUT ROWID;`
const OLD_INDEXES = 'CREATE INDEX IF NOT EXISTS blocks_parent ON blocks(parent); CREATE INDEX IF NOT EXISTS block_tables_name ON block_tables(name);'
let schema = SCHEMA
if (variant !== 'current') {
  // The old tables first: CREATE TABLE IF NOT EXISTS then leaves SCHEMA's own definitions out, and
  // the indexes on columns they lack (hkey, block_tables.block) with them.
  schema = OLD_BLOCKS + schema.replace(/CREATE INDEX IF NOT EXISTS (blocks_hkey|block_tables_latest) [^;]*;/g, '') + (variant === 'old' ? OLD_INDEXES : '')
}

const s = new Database(src, { readonly: true })
const blocks = s.prepare('SELECT * FROM blocks WHERE canonical = 1 AND height BETWEEN 1 AND ? ORDER BY height').all(N)
const tables = new Map()
// SRC of either version (block_tables by hash, or by blocks.id since session 45).
const byId = s.prepare("SELECT count(*) FROM pragma_table_info('block_tables') WHERE name = 'block'").pluck().get() === 1
for (const r of s.prepare(byId ? 'SELECT b.hash, t.* FROM block_tables t JOIN blocks b ON b.id = t.block' : 'SELECT * FROM block_tables').all()) tables.set(r.hash, [...(tables.get(r.hash) ?? []), r])
s.close()
for (const x of ['', '-wal', '-shm']) rmSync(out + x, { force: true })
const db = new Database(out)
db.pragma('journal_mode = WAL')
db.pragma('synchronous = FULL')
db.exec(schema)
const tree = new ChainTreeTable(db, () => {})
const current = variant === 'current'
const insB = db.prepare(`INSERT INTO blocks (hash, height, parent, canonical, version, signer, timestamp, rows_root, prev_sig, seal, size, key_ops, received_at${current ? ', hkey' : ''}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?${current ? ', ?' : ''})`)
// `current` keys block_tables by blocks.id (session 45), the others by hash.
const insT = db.prepare(`INSERT INTO block_tables (${current ? 'block' : 'hash'}, name, sql, rows, root) VALUES (?, ?, ?, ?, ?)`)
const c0 = process.cpuUsage()
for (let i = 0; i < blocks.length; i += 128) {
  db.pragma('synchronous = NORMAL')
  db.exec('BEGIN IMMEDIATE')
  let size = tree.size
  for (const b of blocks.slice(i, i + 128)) {
    const { lastInsertRowid: id } = insB.run(b.hash, b.height, b.parent, 1, b.version, b.signer, b.timestamp, b.rows_root, b.prev_sig, b.seal, b.size, b.key_ops, b.received_at, ...current ? [hashKey(b.hash)] : [])
    for (const t of tables.get(b.hash) ?? []) insT.run(current ? id : b.hash, t.name, t.sql, t.rows, t.root)
    tree.append(Buffer.from(b.hash, 'hex'), size++)
  }
  db.exec('COMMIT')
  db.pragma('synchronous = FULL')
}
const c = process.cpuUsage(c0)
const kinds = db.prepare("SELECT name || (CASE WHEN wr THEN ' (WITHOUT ROWID)' ELSE '' END) FROM pragma_table_list WHERE name IN ('blocks', 'block_tables')").pluck().all().join(', ')
process.stderr.write(`${variant} (${kinds}; ${db.pragma('page_count', { simple: true })} pages): ${blocks.length} blocks, CPU ${((c.user + c.system) / blocks.length).toFixed(1)} µs a block (user ${(c.user / blocks.length).toFixed(1)}, system ${(c.system / blocks.length).toFixed(1)})\n`)
db.close()
// The reads that follow, in a fresh connection: verify's windows of 1,000 heights (IndexDb.canonicalFiles), then every block by hash
// (IDX25_WRITES_ONLY=1 leaves them out, for instruction counts of the writes).
if (process.env.IDX25_WRITES_ONLY === '1') process.exit(0)
const r = new Database(out, { readonly: true })
const r0 = process.cpuUsage()
const windows = r.prepare('SELECT height, hash, seal, size FROM blocks WHERE canonical = 1 AND height BETWEEN ? AND ? ORDER BY height').raw(true)
let read = 0
for (let h = 1; h <= blocks.length; h += 1000) read += windows.all(h, h + 999).length
const r1 = process.cpuUsage(r0)
// By `hkey` and the hash in the current schema, as IndexDb.byHash looks a block up.
const byHash = current ? r.prepare('SELECT * FROM blocks WHERE hkey = ? AND hash = ?') : r.prepare('SELECT * FROM blocks WHERE hash = ?')
for (const b of blocks) if ((current ? byHash.get(hashKey(b.hash), b.hash) : byHash.get(b.hash)) !== undefined) read++
const r2 = process.cpuUsage(r0)
process.stderr.write(`  reads: verify's windows ${((r1.user + r1.system) / 1000).toFixed(1)} ms, ${blocks.length} lookups by hash ${((r2.user + r2.system - r1.user - r1.system) / 1000).toFixed(1)} ms (${read} rows)\n`)
r.close()
