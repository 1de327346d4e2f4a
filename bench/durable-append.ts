// One durable append from Node, by kind, alternating append by append (docs/performance/ingest.md,
// "Session 23: ingest"): better-sqlite3's WAL commit at synchronous=FULL (what pending.db does and
// what the api bench's reference does), against a raw file: writeSync + fdatasyncSync, and
// writeSync on a descriptor opened with O_DSYNC, each into a preallocated file and at the end of
// a growing one. Usage: node --import tsx bench/durable-append.ts DIR ROWS N
//   ROWS = 1 (one ~90-byte reading) or 100 (one ~9.5 KB request body); N appends of each kind.
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { closeSync, constants, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { reading, rowsJson, type Reading } from './api-http.js'

const [dir = '/tmp', rowsArg = '1', nArg = '2000'] = process.argv.slice(2)
const rows = Number(rowsArg)
const N = Number(nArg)
const root = mkdtempSync(join(dir, 'durable-append-'))
const PREALLOC = 64 << 20

function prealloc (path: string, flags: number): number {
  const fd = openSync(path, 'w+')
  const z = Buffer.alloc(1 << 20)
  for (let i = 0; i < PREALLOC >> 20; i++) writeSync(fd, z, 0, z.length, i << 20)
  fdatasyncSync(fd)
  closeSync(fd)
  return openSync(path, constants.O_RDWR | flags)
}

interface Kind { name: string, append: (from: number) => void, t: number[] }
const raw = (name: string, fd: number, sync: boolean, wrap: boolean): Kind => {
  let off = 0
  return {
    name,
    t: [],
    append: from => {
      const b = Buffer.from(rowsJson(rows, from)) // the request body's bytes, as a log would keep them
      writeSync(fd, b, 0, b.length, off)
      if (sync) fdatasyncSync(fd)
      off += b.length
      if (wrap && off > PREALLOC - 65536) off = 0
    }
  }
}
const db = new Database(join(root, 'ref.db'))
db.pragma('journal_mode = WAL')
db.pragma('synchronous = FULL')
db.exec('CREATE TABLE readings (sensor TEXT, at INTEGER, value REAL, note TEXT)')
const ins = db.prepare('INSERT INTO readings (sensor, at, value, note) VALUES (?, ?, ?, ?)')
const tx = db.transaction((rs: Reading[]) => { for (const r of rs) ins.run(...r) })
const kinds: Kind[] = [
  { name: 'SQLite WAL commit, FULL (the reference)', t: [], append: from => { tx(Array.from({ length: rows }, (_, j) => reading(from + j))) } },
  raw('write + fdatasync, preallocated', prealloc(join(root, 'a'), 0), true, true),
  raw('write on O_DSYNC fd, preallocated', prealloc(join(root, 'b'), constants.O_DSYNC), false, true),
  raw('write + fdatasync, growing file', openSync(join(root, 'c'), 'w+'), true, false),
  raw('write on O_DSYNC fd, growing file', openSync(join(root, 'd'), constants.O_RDWR | constants.O_CREAT | constants.O_DSYNC), false, false)
]
let next = 0
const WARM = rows === 1 ? 1500 : 300 // past the WAL's first checkpoint: it is then reused at its full size
for (let i = 0; i < WARM + N; i++) {
  for (let j = 0; j < kinds.length; j++) {
    const k = kinds[(i + j) % kinds.length] as Kind
    const s = performance.now()
    k.append(next)
    const us = (performance.now() - s) * 1000
    if (i >= WARM) k.t.push(us)
  }
  next += rows
}
const q = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.floor(p * xs.length)] as number
const ref = q((kinds[0] as Kind).t, 0.5)
for (const k of kinds) console.log(`${rows} row(s) ${k.name.padEnd(40)} p10 ${q(k.t, 0.1).toFixed(0).padStart(5)}  p50 ${q(k.t, 0.5).toFixed(0).padStart(5)}  p95 ${q(k.t, 0.95).toFixed(0).padStart(5)} µs  p50 ÷ reference ${(q(k.t, 0.5) / ref).toFixed(2)}`)
db.close()
rmSync(root, { recursive: true, force: true })
