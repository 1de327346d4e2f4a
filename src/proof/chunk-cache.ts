import { existsSync } from 'node:fs'
import { dataFileExists, openSqlite, type SqliteDb } from '../storage/index.js'
import { errorMessage, type Logger } from '../util/index.js'
import type { ChunkCache } from './build.js'
import { decodeTableChunks, encodeTableChunks, type TableChunks } from './table-chunks.js'

// Chunk roots of large tables, per block and table: derived from immutable block files, so they
// never go stale (a block hash names one file). Kept in memory for a running node and in
// `proof-cache.db` beside the chain for the next process; that file is a cache: deleting it costs
// one hashing pass per table at its next proof, and a damaged entry is ignored (the builder checks
// every proof against the table root recorded in the block).

const MEMORY_ENTRIES = 32
const memory = new Map<string, TableChunks>()

function remember (key: string, c: TableChunks): void {
  memory.delete(key)
  memory.set(key, c)
  if (memory.size > MEMORY_ENTRIES) memory.delete(memory.keys().next().value ?? '')
}

const SCHEMA = 'CREATE TABLE IF NOT EXISTS table_chunks (block TEXT NOT NULL, tbl TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (block, tbl)) WITHOUT ROWID'

function withDb<T> (path: string, fn: (db: SqliteDb) => T): T {
  // A named pipe there would block SQLite's open for ever: refused (and the proof computed) instead.
  dataFileExists(path, 'proof cache')
  const db = openSqlite(path)
  try {
    db.pragma('busy_timeout = 2000')
    db.exec(SCHEMA)
    return fn(db)
  } finally {
    db.close()
  }
}

/** The chunk cache of a data directory (`file`: its proof-cache.db). */
export function chunkCache (file: string, logger?: Logger): ChunkCache {
  return {
    get: (block, table) => {
      const key = `${file}\n${block}\n${table}`
      const hit = memory.get(key)
      if (hit !== undefined) { remember(key, hit); return hit }
      if (!existsSync(file)) return undefined
      try {
        const data = withDb(file, db => db.prepare<[string, string], Buffer>('SELECT data FROM table_chunks WHERE block = ? AND tbl = ?').pluck().get(block, table))
        const c = data === undefined ? undefined : decodeTableChunks(data)
        if (c !== undefined) remember(key, c)
        return c
      } catch {
        return undefined // no cache file, or one this user cannot open: compute
      }
    },
    put: (block, table, c) => {
      remember(`${file}\n${block}\n${table}`, c)
      try {
        withDb(file, db => db.prepare('INSERT OR REPLACE INTO table_chunks (block, tbl, data) VALUES (?, ?, ?)').run(block, table, encodeTableChunks(c)))
      } catch (err) {
        logger?.debug('proof cache not written', { error: errorMessage(err) })
      }
    }
  }
}
