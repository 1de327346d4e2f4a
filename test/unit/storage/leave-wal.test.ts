// closeOrLeave after leaveConnectionsAtExit (src/storage/sqlite.ts): a process that ends leaves a
// small -wal in place, with every commit in it, and checkpoints and deletes one over 1 MiB as
// close() always did, so that the next process's first open never reads more than that to rebuild
// its -shm. A connection inside a transaction is closed (its transaction rolled back), never left.
// In a child process: a connection left open lives until the process exits.
import { describe, expect, it } from 'vitest'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import Database from 'better-sqlite3'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { tmpDir } from '../../helpers/tmp.js'

const SQLITE = srcEntry('storage', 'sqlite.ts')

const CHILD = `import { closeOrLeave, leaveConnectionsAtExit, openSqlite } from ${JSON.stringify(SQLITE)}
const [dir] = process.argv.slice(1)
const open = (name, blob) => {
  const db = openSqlite(dir + '/' + name)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE t (v BLOB)')
  db.prepare('INSERT INTO t VALUES (randomblob(?))').run(blob)
  return db
}
const small = open('small.db', 1000)
const big = open('big.db', 1536 * 1024)
const busy = open('busy.db', 1000)
busy.exec('BEGIN; INSERT INTO t VALUES (1)')
leaveConnectionsAtExit()
for (const db of [small, big, busy]) closeOrLeave(db)
process.exit(0)
`

describe('connections left for the exit', () => {
  it('leave a -wal of up to 1 MiB with its commits; a larger one and a transaction are closed', () => {
    const dir = tmpDir()
    const r = spawnSync(process.execPath, [...loaderFor(SQLITE), '--input-type=module', '-e', CHILD, dir], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    expect(existsSync(join(dir, 'small.db-wal'))).toBe(true)
    expect(existsSync(join(dir, 'big.db-wal'))).toBe(false)
    expect(existsSync(join(dir, 'busy.db-wal'))).toBe(false)
    for (const [name, rows] of [['small.db', 1], ['big.db', 1], ['busy.db', 1]] as const) {
      const db = new Database(join(dir, name), { readonly: true })
      expect(db.prepare('SELECT count(*) FROM t').pluck().get(), name).toBe(rows)
      db.close()
    }
  })
})
