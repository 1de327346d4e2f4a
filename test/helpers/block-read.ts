// What the block reader's tests compare: a read's outcome, the statements it prepared, page 1.
import Database from 'better-sqlite3'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { vi } from 'vitest'
import { buildBlock, type BuildBlockOptions } from '../../src/block/index.js'
import { isPetalError } from '../../src/util/index.js'
import { fixtureKey } from './chain.js'
import { tmpDir } from './tmp.js'

/** The outcome of a read: the file's description, or the coded error with its message. */
export async function outcome (p: Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await p }
  } catch (err) {
    if (isPetalError(err)) return { code: err.code, message: err.message }
    throw err
  }
}

/** The SQL of every statement prepared on a block connection while `run` runs. */
export async function prepared (run: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = []
  const prepare = Database.prototype.prepare
  const spy = vi.spyOn(Database.prototype, 'prepare').mockImplementation(function (this: Database.Database, sql: string) {
    seen.push(sql)
    return prepare.call(this, sql)
  })
  try {
    await run()
  } finally {
    spy.mockRestore()
  }
  return seen
}

/** The page size a SQLite file's header gives (1 stands for 65,536). */
export const pageSize = (bytes: Buffer): number => bytes.readUInt16BE(16) === 1 ? 65536 : bytes.readUInt16BE(16)

/** The first `n` bytes of a block file as a download hands them to the reader (`head`). */
export const head = (bytes: Buffer, n = bytes.length): { bytes: Uint8Array, size: number } => ({ bytes: new Uint8Array(bytes.subarray(0, n)), size: bytes.length })

export const MAX_BLOCK_BYTES = 1 << 26

/** Build options for a test block at height 7 signed by alice, with `over` on top. */
export function blockOptions (over: Partial<BuildBlockOptions> & { output: string }): BuildBlockOptions {
  return { key: fixtureKey('alice'), chainId: 'aa'.repeat(32), height: 7, previousHash: 'bb'.repeat(32), timestamp: '2026-03-01T10:00:00.000Z', maxBytes: MAX_BLOCK_BYTES, ...over }
}

/** A block of `sql` (run on an empty user database, at `pageSize` if given) built into `dir`/`name`, as its bytes and path. */
export async function sqlBlock (dir: string, name: string, sql: string, pageSize?: number): Promise<{ path: string, bytes: Buffer }> {
  const src = join(dir, `${name}-src.db`)
  const db = new Database(src)
  if (pageSize !== undefined) db.pragma(`page_size = ${pageSize}`)
  db.exec(sql)
  db.close()
  const b = await buildBlock(blockOptions({ source: src, output: join(dir, `${name}.db`) }))
  return { path: b.path, bytes: readFileSync(b.path) }
}

/** A block at height 3 of one table `t` holding `rows` sensor readings (id, sensor, at, note), built in a fresh directory: its path. */
export async function sensorBlock (rows: number): Promise<string> {
  const dir = tmpDir()
  const src = join(dir, 'u.db')
  const u = new Database(src)
  u.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, sensor TEXT, at INTEGER, note TEXT)')
  const ins = u.prepare('INSERT INTO t (sensor, at, note) VALUES (?, ?, ?)')
  u.transaction(() => { for (let i = 0; i < rows; i++) ins.run(`sensor-${i % 7}`, 1_700_000_000 + i, `row ${i} of the test`) })()
  u.close()
  return (await buildBlock(blockOptions({ source: src, output: join(dir, 'b.db'), height: 3 }))).path
}
