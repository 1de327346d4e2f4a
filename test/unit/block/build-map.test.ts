// quick_check of a build's copy reads it through a memory map when the copy is at least
// MAP_MIN_BYTES (build.ts, checkInput): SQLite's page reads then cost no system call and no copy.
// Only the build's own private copy is mapped, never the user's file, and the map is gone before
// the reserved tables are written. Seen from the kernel's side: what /proc/self/maps shows while
// the build is held just after quick_check (the pausepoint `build:checked`), read by a thread of
// this process while the building thread waits. The large copy (5 MiB) is also flushed early.
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { buildBlock, TableRootPool, type BuildBlockOptions } from '../../../src/block/index.js'
import { MAP_MIN_BYTES } from '../../../src/block/sqlite.js'
import { isPetalError } from '../../../src/util/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const key = fixtureKey('alice')
const dir = tmpDir()
const pool = new TableRootPool(2)
afterAll(async () => { await pool.close() })
afterEach(() => {
  delete process.env.PETAL_PAUSE
  delete process.env.PETAL_PAUSE_FILE
})

function opts (source: string, output: string): BuildBlockOptions {
  return { source, output, key, chainId: 'aa'.repeat(32), height: 3, previousHash: 'bb'.repeat(32), timestamp: '2026-03-01T10:00:00.000Z', maxBytes: 1 << 28, pool }
}

/** A source of about `mb` MiB in one rowid table. */
function source (path: string, mb: number): string {
  const db = new Database(path)
  db.exec('CREATE TABLE r (id INTEGER PRIMARY KEY, s TEXT, v REAL)')
  const ins = db.prepare('INSERT INTO r (s, v) VALUES (?, ?)')
  db.transaction(() => { for (let i = 0; i < mb * 1024 * 1024 / 48; i++) ins.run(`reading ${i} of the map test`, i / 7) })()
  db.close()
  return path
}

/** The files under `dir` this process maps now (lines of /proc/self/maps). */
const MAPPED_UNDER = `
const { parentPort, workerData } = require('node:worker_threads')
const { existsSync, readFileSync, rmSync } = require('node:fs')
const cell = new Int32Array(new SharedArrayBuffer(4))
while (!existsSync(workerData.file)) Atomics.wait(cell, 0, 0, 2)
const out = new Set()
for (const line of readFileSync('/proc/self/maps', 'latin1').split('\\n')) {
  const at = line.indexOf('/')
  if (at >= 0 && line.slice(at).startsWith(workerData.dir)) out.add(line.slice(at))
}
rmSync(workerData.file)
parentPort.postMessage([...out])
`

/** Build `src` into `out`, held after quick_check while another thread lists the files under `dir` mapped then. */
async function mappedAtCheck (src: string, out: string): Promise<{ mapped: string[], built: Promise<unknown> }> {
  const file = join(dir, `pause-${Math.random().toString(16).slice(2)}`)
  process.env.PETAL_PAUSE = 'build:checked'
  process.env.PETAL_PAUSE_FILE = file
  const w = new Worker(MAPPED_UNDER, { eval: true, workerData: { file, dir } })
  const seen = new Promise<string[]>((resolve, reject) => { w.once('message', resolve); w.once('error', reject) })
  const built = buildBlock(opts(src, out)).then(b => b, (err: unknown) => err)
  const mapped = await seen
  await w.terminate()
  await built
  return { mapped, built }
}

/** What is mapped under `dir` now, read on this thread. */
function mappedNow (): string[] {
  return readFileSync('/proc/self/maps', 'latin1').split('\n').filter(l => l.includes(dir))
}

describe('quick_check of a build\'s copy', () => {
  const large = source(join(dir, 'large.db'), 5)
  const small = source(join(dir, 'small.db'), 1)

  it('reads a copy of at least MAP_MIN_BYTES through a map of the copy, never of the user\'s file, gone when the build ends', async () => {
    expect(statSync(large).size).toBeGreaterThanOrEqual(MAP_MIN_BYTES)
    const out = join(dir, 'large-out.db')
    const { mapped, built } = await mappedAtCheck(large, out)
    expect(mapped).toEqual([out])
    expect(isPetalError(await built)).toBe(false)
    expect(mappedNow()).toEqual([])
  })

  it('reads a smaller copy without a map', async () => {
    expect(statSync(small).size).toBeLessThan(MAP_MIN_BYTES)
    const out = join(dir, 'small-out.db')
    const { mapped, built } = await mappedAtCheck(small, out)
    expect(mapped).toEqual([])
    expect(isPetalError(await built)).toBe(false)
  })

  it('refuses a mapped copy that fails quick_check as CORRUPT, and unmaps it', async () => {
    const bad = join(dir, 'bad.db')
    const bytes = readFileSync(large)
    // A leaf page in the middle of the file gets an invalid page type.
    const db = new Database(large, { readonly: true })
    const page = db.pragma('page_size', { simple: true }) as number
    db.close()
    bytes[Math.floor(bytes.length / page / 2) * page] = 0x01
    writeFileSync(bad, bytes)
    const out = join(dir, 'bad-out.db')
    const { mapped, built } = await mappedAtCheck(bad, out)
    expect(mapped).toEqual([out])
    const err = await built
    expect(isPetalError(err) ? err.code : err).toBe('CORRUPT')
    expect(mappedNow()).toEqual([])
  })
})
