import Database from 'better-sqlite3'
import { join } from 'node:path'
import { buildBlock, rowsRootOf, signSeal, type TableEntry } from '../../src/block/index.js'
import { importBlock, type Chain } from '../../src/chain/index.js'
import { sha256File, type SigningKey } from '../../src/crypto/index.js'
import { formatTimestamp } from '../../src/util/index.js'
import { sqliteFile } from './query.js'

/**
 * A valid, signed block whose table has a CHECK calling load_extension. SQLite refuses to load
 * such a schema into a connection that can write (it would have to enforce the CHECK), and
 * signimportblock cannot build it; an attacker signs it with the block module, as done here: the
 * DDL is swapped after the build, `_tables` and RowsRoot follow, and the block is sealed again.
 * The query mirror takes its slow path for it (a read-only copy, rows copied one by one).
 */
export async function importCheckBlock (chain: Chain, key: SigningKey, work: string): Promise<void> {
  const src = sqliteFile(join(work, 'check-src.db'), db => { db.exec("CREATE TABLE guarded (g TEXT, n INT CHECK (n > 0)); INSERT INTO guarded VALUES ('kept', 7)") })
  const tip = chain.tip()
  const out = join(work, 'check-block.db')
  const built = await buildBlock({ source: src, output: out, key, chainId: chain.chainId, height: tip.height + 1, previousHash: tip.hash, timestamp: formatTimestamp(Date.now()), maxBytes: chain.params.maxBlockBytes })
  const db = new Database(out)
  const sql = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'guarded'").pluck().get() as string
  const evil = sql.replace('CHECK (n > 0)', "CHECK (load_extension('./evil-check.so') IS NULL)")
  const entries = (db.prepare('SELECT name, sql, rows, root FROM _tables ORDER BY name').all() as TableEntry[]).map(t => (t.name === 'guarded' ? { ...t, sql: evil } : t))
  const rowsRoot = rowsRootOf(entries)
  db.prepare("UPDATE _tables SET sql = ? WHERE name = 'guarded'").run(evil)
  db.prepare("UPDATE _meta SET value = ? WHERE key = 'RowsRoot'").run(rowsRoot)
  db.unsafeMode(true)
  db.pragma('writable_schema = ON')
  db.prepare("UPDATE sqlite_schema SET sql = ? WHERE name = 'guarded'").run(evil)
  db.pragma('writable_schema = OFF')
  db.close()
  const seal = signSeal(key, { ...built.header, rowsRoot }, await sha256File(out))
  const r = await importBlock(chain, out, seal)
  if (r.status !== 'extended') throw new Error(`hostile block not imported: ${r.status}`)
}
