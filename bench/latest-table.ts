// IndexDb.latestTable at 100,000 blocks (docs/performance/catchup.md, "Session 49: chain.db
// follow-ups (health49)"): what an append or `signimportblock --table` asks chain.db once per
// table new to a pending store. A synthetic index of version 3 (N canonical blocks, two tables
// each: `tx` in every block, `audit` in the first 1,000 only, a third name in none), then the
// median of 200 calls for a recent table, an old one and an absent one. Then what the index costs
// placement: CPU of 20,000 blocks of two tables inserted in groups of 128 (a catch-up's
// transactions, synchronous NORMAL inside them as placement has it) into a new index with and
// without block_tables_latest, alternated three times.
//   node --import tsx bench/latest-table.ts [DIR] [N]
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { IndexDb } from '../src/storage/index.js'
import { SCHEMA } from '../src/storage/index-records.js'

const dir = process.argv[2] ?? '/var/tmp/latest-table'
const n = Number(process.argv[3] ?? 100_000)
mkdirSync(dir, { recursive: true })
const path = join(dir, 'chain.db')
for (const x of ['', '-wal', '-shm']) rmSync(path + x, { force: true })

// The file made by IndexDb (its schema, whatever this build's is), then filled by plain SQL.
IndexDb.open(path).close()
const db = new Database(path)
db.transaction(() => {
  db.exec(`WITH RECURSIVE h(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM h WHERE x < ${n - 1})
    INSERT INTO blocks (id, hash, height, parent, canonical, version, signer, timestamp, rows_root, prev_sig, seal, size, key_ops, received_at, hkey)
    SELECT x + 1, printf('%064x', x * 7919 + 13), x, printf('%064x', (x - 1) * 7919 + 13), 1, 2, 'k', '2026-01-01T00:00:00Z', 'r', 's', 's', 1000, 0, 0, x * 7919 + 13 FROM h`)
  db.exec(`INSERT INTO block_tables (block, name, sql, rows, root) SELECT id, 'tx', 'CREATE TABLE tx (v INTEGER)', 10, 'r' FROM blocks ORDER BY id`)
  db.exec(`INSERT INTO block_tables (block, name, sql, rows, root) SELECT id, 'audit', 'CREATE TABLE audit (v TEXT)', 1, 'r' FROM blocks WHERE id <= 1000 ORDER BY id`)
})()
db.pragma('wal_checkpoint(TRUNCATE)')
db.close()

const index = IndexDb.open(path, { readonly: true })
function median (name: string): { ms: number, answer: string } {
  const times: number[] = []
  let answer = ''
  for (let i = 0; i < 200; i++) {
    const t0 = process.hrtime.bigint()
    const r = index.latestTable(name)
    times.push(Number(process.hrtime.bigint() - t0) / 1e6)
    answer = r === undefined ? 'none' : `height ${r.height}`
  }
  times.sort((a, b) => a - b)
  return { ms: times[100] ?? NaN, answer }
}
for (const name of ['TX', 'audit', 'absent']) {
  const m = median(name)
  console.log(`latestTable(${name}) at ${n} blocks: ${m.ms.toFixed(3)} ms median of 200 (${m.answer})`)
}
index.close()

function place (withIndex: boolean): number {
  const out = join(dir, 'place.db')
  for (const x of ['', '-wal', '-shm']) rmSync(out + x, { force: true })
  const p = new Database(out)
  p.pragma('journal_mode = WAL')
  p.exec(withIndex ? SCHEMA : SCHEMA.replace(/CREATE INDEX IF NOT EXISTS block_tables_latest[^;]*;/, ''))
  const insB = p.prepare('INSERT INTO blocks (hash, height, parent, canonical, version, signer, timestamp, rows_root, prev_sig, seal, size, key_ops, received_at, hkey) VALUES (?, ?, ?, 1, 2, ?, ?, ?, ?, ?, 1000, 0, 0, ?)')
  const insT = p.prepare('INSERT INTO block_tables (block, name, sql, rows, root) VALUES (?, ?, ?, 10, ?)')
  const c0 = process.cpuUsage()
  for (let i = 0; i < 20_000; i += 128) {
    p.pragma('synchronous = NORMAL')
    p.exec('BEGIN IMMEDIATE')
    for (let h = i; h < i + 128; h++) {
      const { lastInsertRowid: id } = insB.run(h.toString(16).padStart(64, '0'), h, (h - 1).toString(16).padStart(64, '0'), 'k'.repeat(66), '2026-01-01T00:00:00Z', 'r'.repeat(64), 's'.repeat(140), 's'.repeat(140), h * 7919 % 1e9)
      insT.run(id, 'tx', 'CREATE TABLE tx (v INTEGER)', 'r'.repeat(64))
      insT.run(id, h % 2 === 0 ? 'audit' : 'log', 'CREATE TABLE audit (v TEXT)', 'r'.repeat(64))
    }
    p.exec('COMMIT')
  }
  const c = process.cpuUsage(c0)
  p.close()
  return (c.user + c.system) / 20_000
}
for (let round = 0; round < 3; round++) {
  console.log(`placement, index writes of 20,000 blocks: without block_tables_latest ${place(false).toFixed(1)} us of CPU a block, with it ${place(true).toFixed(1)} us`)
}
