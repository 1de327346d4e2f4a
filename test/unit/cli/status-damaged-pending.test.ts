import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { petalInProcess } from '../../helpers/cli.js'
import { tmpDir } from '../../helpers/tmp.js'

// `petal status` with a pending.db whose pages are damaged past its schema (review49): pending
// rows are read after the open, and SQLite's SQLITE_CORRUPT from that read was no Petal error, so
// status failed as a whole (exit 4, IO_ERROR: "chain.db reads whole now … `petal verify` checks the
// block files") where it is meant to say that pending.db cannot be read and answer the rest.

describe('petal status beside a damaged pending.db', () => {
  it('answers, and says pending.db is damaged with the hint to keep it', async () => {
    const work = tmpDir()
    const dir = join(work, 'd')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const rows = join(work, 'rows.ndjson')
    writeFileSync(rows, Array.from({ length: 300 }, (_, i) => JSON.stringify({ a: i, b: 'x'.repeat(300) })).join('\n') + '\n')
    const appended = await petalInProcess(['--dir', dir, 'append', 't', rows])
    expect(appended.code, appended.stderr).toBe(0)
    // The rows into the database file, then the `rows` table's root page overwritten.
    const path = join(dir, 'pending.db')
    const db = new Database(path)
    db.pragma('wal_checkpoint(TRUNCATE)')
    const root = (db.prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'rows'").get() as { rootpage: number }).rootpage
    const pageSize = Number(db.pragma('page_size', { simple: true }))
    db.close()
    const fd = openSync(path, 'r+')
    writeSync(fd, Buffer.alloc(64, 0xff), 0, 64, (root - 1) * pageSize)
    closeSync(fd)

    const s = await petalInProcess(['--dir', dir, 'status'])
    expect(s.code, s.stderr).toBe(0)
    expect(s.stdout).toMatch(/^blocks {6}1$/m)
    expect(s.stdout).toMatch(/^pending {5}cannot read pending\.db: .*\[INGEST_STORE_UNAVAILABLE\]$/m)
    expect(s.stdout).toContain('do not delete it')
    const j = await petalInProcess(['--dir', dir, '--json', 'status'])
    expect(j.code, j.stderr).toBe(0)
    expect((JSON.parse(j.stdout) as { ingest: { error: { code: string } } }).ingest.error.code).toBe('INGEST_STORE_UNAVAILABLE')
  }, 60_000)
})
