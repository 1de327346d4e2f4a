import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { nativeWalIndexBuilt } from '../../helpers/native-build.js'
import { tmpDir } from '../../helpers/tmp.js'

/**
 * review39: the check before a re-write (rewriteLog) reads the -wal through a descriptor of its
 * own. When this process cannot open one (EMFILE: every descriptor in use), the log was taken for
 * empty: the wal-index was rebuilt for nothing and IO_ERROR said every commit was dropped, though
 * the checkpoint copied them all (pending.db then refused a group whose rows were durable: a
 * retry doubles them). Now the open's failure is thrown as it is. In a child process whose
 * descriptors are used up once its database is open (the built dist/, as SQLite's extension is).
 */

const DIST = join(import.meta.dirname, '..', '..', '..', 'dist')

const CHILD = `
  const Database = require('better-sqlite3')
  const fs = require('node:fs')
  ;(async () => {
    const { rewriteLog } = await import(${JSON.stringify(join(DIST, 'storage', 'index.js'))})
    const { walIndexFrames } = await import(${JSON.stringify(join(DIST, 'storage', 'wal-index.js'))})
    const db = new Database(process.argv[1])
    db.pragma('journal_mode = WAL'); db.pragma('wal_autocheckpoint = 0'); db.pragma('synchronous = FULL')
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
    for (const v of ['a', 'b', 'c']) db.prepare('INSERT INTO t (v) VALUES (?)').run(v)
    db.exec('BEGIN IMMEDIATE'); const frames = walIndexFrames(db); db.exec('ROLLBACK') // the extension loaded
    const fds = []
    try { for (;;) fds.push(fs.openSync('/dev/null', 'r')) } catch (e) { if (e.code !== 'EMFILE') throw e }
    let out
    try { out = { done: rewriteLog(db) } } catch (e) { out = { code: e.code, message: e.message } }
    for (const fd of fds) fs.closeSync(fd)
    out.frames = frames
    out.rows = db.prepare('SELECT v FROM t ORDER BY id').pluck().all()
    process.stdout.write(JSON.stringify(out))
  })()`

describe.runIf(nativeWalIndexBuilt() && process.platform === 'linux')('rewriteLog when the -wal cannot be opened', () => {
  it('no descriptor left: the open\'s failure, not every commit reported dropped', () => {
    const path = join(tmpDir(), 'emfile.db')
    const r = spawnSync('bash', ['-c', 'ulimit -n 256 && exec "$0" -e "$1" "$2"', process.execPath, CHILD, path], { encoding: 'utf8', timeout: 60_000, cwd: join(DIST, '..') })
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { done?: boolean, code?: string, message?: string, frames: number, rows: string[] }
    expect(out.frames).toBeGreaterThan(0)
    expect(out.code, out.message).toBe('EMFILE')
    expect(out.rows).toEqual(['a', 'b', 'c'])
  })
})
