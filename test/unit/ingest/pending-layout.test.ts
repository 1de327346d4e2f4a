import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Ingest } from '../../../src/ingest/index.js'
import { NodeLock } from '../../../src/storage/index.js'
import { processStopped } from '../../../src/util/index.js'
import { pullNodeState, stoppedLockHolder } from '../../helpers/stopped-holder.js'
import { waitFor } from '../../helpers/wait.js'
import { decodePendingRow, PendingRowEncoder } from '../../../src/ingest/row-codec.js'
import { LAYOUT } from '../../../src/ingest/pending-schema.js'
import type { TableSchema } from '../../../src/ingest/schema.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { canonicalRows } from '../../helpers/ingest.js'

const alice = fixtureKey('alice')
const cleanup: Array<() => unknown> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

/**
 * test/fixtures/ingest/pending-layout1.db: written by Petal at c127f02 (layout 1, whose rows name
 * their fields), nine rows pending: table t created from rows and widened (column e), through
 * append() and the JSON lane, with a BLOB, nulls, fields in another order and missing ones; table
 * d declared with a DEFAULT, one row leaving it out. Its instance id is dglknxvf.
 */
const FIXTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'ingest', 'pending-layout1.db')
const RECEIPTS = Array.from({ length: 9 }, (_, i) => `dglknxvf-${i + 1}`)
const T_ROWS = [
  { a: 1n, b: 'x', c: 2.5, é: new Uint8Array([0, 1, 255]), e: null },
  { a: -2n, b: null, c: -1.5, é: null, e: null },
  { a: null, b: 'ünï 😀', c: null, é: null, e: null },
  { a: 3n, b: 'lane', c: null, é: null, e: null },
  { a: null, b: 'second', c: 0.25, é: null, e: null },
  { a: 4n, b: null, c: null, é: null, e: 'a new column' },
  { a: 5n, b: null, c: null, é: null, e: 'ndjson' }
]
const D_ROWS = [{ k: 1n, v: 'dflt', w: null }, { k: 2n, v: null, w: 1 }]

async function chainWithFixture (): Promise<Awaited<ReturnType<typeof newTestChain>>> {
  const c = await newTestChain({ key: alice })
  cleanup.push(() => { c.chain.close() })
  copyFileSync(FIXTURE, c.chain.dir.pendingDb)
  return c
}

const layoutOf = (path: string): string => {
  const db = new Database(path, { readonly: true })
  try { return (db.prepare("SELECT value FROM meta WHERE key = 'layout'").get() as { value: string }).value } finally { db.close() }
}

/** The error `fn` throws. */
function captured (fn: () => unknown): Error & { code?: string, hint?: string } {
  try { fn() } catch (err) { return err as Error & { code?: string, hint?: string } }
  throw new Error('did not throw')
}

/**
 * Another process holding the node lock of `dir`, as a running node does, until stop(); `hold`:
 * what it does with its connection instead (a look at pending.db, kept open).
 */
async function nodeLockHolder (dir: string, file = 'node.lock', hold = "db.exec('BEGIN EXCLUSIVE')"): Promise<{ stop: () => Promise<void> }> {
  const script = `const db = new (require('better-sqlite3'))(${JSON.stringify(join(dir, file))}); ${hold}; process.stdout.write('locked\\n'); process.stdin.resume(); process.stdin.on('end', () => { if (db.inTransaction) db.exec('ROLLBACK'); db.close(); process.exit(0) })`
  const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] })
  cleanup.push(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('locked')) resolve() })
    child.on('exit', code => { reject(new Error(`the lock holder exited (${String(code)})`)) })
  })
  return {
    stop: async () => {
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.stdin?.end()
      await exited
    }
  }
}

const values = (rows: Array<{ values: Record<string, unknown> }>): unknown[] => rows.map(r => ({ ...r.values, ...(r.values.é instanceof Uint8Array ? { é: new Uint8Array(r.values.é) } : {}) }))

describe('pending.db layout 2 (rows name their fields by column index)', () => {
  it('seals every row acknowledged under layout 1 after the upgrade, with exact values, beside rows of layout 2', async () => {
    const { chain } = await chainWithFixture()
    // A read-only opening (receipts) reads layout 1 as it is, and changes nothing.
    const reader = Ingest.open({ chain, readonly: true })
    expect(reader.receipt(RECEIPTS[0] as string)?.state).toBe('pending')
    await reader.close()
    expect(layoutOf(chain.dir.pendingDb)).toBe('1')

    const ingest = Ingest.open({ chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    expect(layoutOf(chain.dir.pendingDb)).toBe(LAYOUT)
    for (const id of RECEIPTS) expect(ingest.receipt(id)?.state).toBe('pending')
    // New rows (the lane, the typed path, a new column) in the same blocks as the old ones.
    const lane = await ingest.appendRecords('t', Buffer.from('[{"b": "after", "a": 6}]'), 'json')
    const typed = await ingest.append('t', [{ f: 7n, a: 7n }])
    const declared = await ingest.append('d', [{ w: 2.5, k: 3n }])
    const sealed = await ingest.sealNow()
    expect(sealed.blocks.length).toBeGreaterThan(0)
    expect(values(canonicalRows(chain, 't'))).toEqual([
      ...T_ROWS.map(r => ({ ...r, f: null })),
      { a: 6n, b: 'after', c: null, é: null, e: null, f: null },
      { a: 7n, b: null, c: null, é: null, e: null, f: 7n }
    ])
    expect(values(canonicalRows(chain, 'd'))).toEqual([...D_ROWS, { k: 3n, v: 'dflt', w: 2.5 }])
    for (const id of [...RECEIPTS, ...lane.receipts, ...typed.receipts, ...declared.receipts]) expect(ingest.receipt(id)?.state).toBe('sealed')
  })

  it('a store of a layout this Petal does not know is refused, not read; one of a newer Petal is not to be restored from a backup', async () => {
    const { chain } = await chainWithFixture()
    const setLayout = (v: string): void => {
      const db = new Database(chain.dir.pendingDb)
      db.prepare("UPDATE meta SET value = ? WHERE key = 'layout'").run(v)
      db.close()
    }
    setLayout('4')
    for (const readonly of [false, true]) {
      const err = captured(() => Ingest.open({ chain, key: alice, readonly }))
      expect(err).toMatchObject({ code: 'INGEST_STORE_UNAVAILABLE', message: expect.stringContaining('layout version 4') })
      // Restoring a backup would lose every row acknowledged since and reissue their receipt ids.
      expect(err.hint).toMatch(/newer version of Petal: run that version/)
      expect(err.hint).toMatch(/do not restore or delete/)
      expect(err.hint).not.toMatch(/restore it from a backup/)
    }
    setLayout('x') // not a version at all: a damaged file
    expect(captured(() => Ingest.open({ chain, key: alice }))).toMatchObject({ code: 'INGEST_STORE_UNAVAILABLE', hint: expect.stringContaining('backup') })
  })

  it('is not upgraded while a look at node.lock is stopped mid-look; the message names it, and resumed as the hint says the store is upgraded', async () => {
    const { chain } = await chainWithFixture()
    const { pid, exited, kill } = await stoppedLockHolder(join(chain.dir.root, 'node.lock'), { keeps: false })
    cleanup.push(kill)
    const err = captured(() => Ingest.open({ chain, key: alice }))
    expect(err).toMatchObject({ code: 'INGEST_STORE_IN_USE', message: expect.stringContaining(`process ${pid} holds node.lock and is stopped`) })
    expect(err.hint).toContain(`kill -CONT ${pid}`)
    expect(layoutOf(chain.dir.pendingDb)).toBe('1')
    process.kill(pid, 'SIGCONT')
    await exited
    const ingest = Ingest.open({ chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    expect(layoutOf(chain.dir.pendingDb)).toBe(LAYOUT)
  })

  it('a pull stopped (Ctrl-Z) while it holds node.lock: the hint does not promise that resuming it lets the upgrade through, as it does for a look', async () => {
    const { chain } = await chainWithFixture()
    // A pull keeps node.lock from its sync's start to its verify's end, resumed or not.
    const { pid, exited, kill } = await stoppedLockHolder(join(chain.dir.root, 'node.lock'), { keeps: true })
    cleanup.push(kill)
    writeFileSync(join(chain.dir.root, 'node-state.json'), JSON.stringify(pullNodeState(pid)))
    const err = captured(() => Ingest.open({ chain, key: alice }))
    expect(err).toMatchObject({ code: 'INGEST_STORE_IN_USE', message: expect.stringContaining(`process ${pid} holds node.lock and is stopped`) })
    expect(err.hint).toContain(`kill -CONT ${pid}`)
    expect(err.hint).toMatch(/if it is a pull, resumed it keeps node\.lock until it has ended: run this command again then/)
    // Resumed, it still holds the lock (as the hint says), and the store is upgraded once it has ended.
    process.kill(pid, 'SIGCONT')
    await waitFor(() => !processStopped(pid), { what: 'the pull to resume', timeout: 10_000 })
    expect(captured(() => Ingest.open({ chain, key: alice }))).toMatchObject({ code: 'INGEST_STORE_IN_USE', hint: expect.stringMatching(/when the pull has ended/) })
    expect(layoutOf(chain.dir.pendingDb)).toBe('1')
    process.kill(pid, 'SIGTERM')
    await exited
    const ingest = Ingest.open({ chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    expect(layoutOf(chain.dir.pendingDb)).toBe(LAYOUT)
  })

  it('is not upgraded while another process (an older Petal\'s node, or a pull) holds node.lock; the message says which lock, the hint covers both', async () => {
    const { chain } = await chainWithFixture()
    const holder = await nodeLockHolder(chain.dir.root)
    const err = captured(() => Ingest.open({ chain, key: alice }))
    expect(err).toMatchObject({ code: 'INGEST_STORE_IN_USE', message: expect.stringContaining('another process holds node.lock (a node or a pull)') })
    expect(err.message).not.toMatch(/older Petal is running/)
    expect(err.hint).toMatch(/when the pull has ended/)
    expect(err.hint).toMatch(/start it with this version/)
    expect(layoutOf(chain.dir.pendingDb)).toBe('1')
    // Receipts are still answered (read-only, nothing upgraded).
    const reader = Ingest.open({ chain, readonly: true })
    expect(reader.receipt(RECEIPTS[0] as string)?.state).toBe('pending')
    await reader.close()
    expect(layoutOf(chain.dir.pendingDb)).toBe('1')
    // The old node stops; this version's node opens the store (before it takes the node lock) and upgrades it.
    await holder.stop()
    const ingest = Ingest.open({ chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    expect(layoutOf(chain.dir.pendingDb)).toBe(LAYOUT)
    // The upgrade took node.lock (no older node could start between the look and the update) and gave it back.
    expect(NodeLock.isHeld(chain.dir.root)).toBe(false)
    expect(NodeLock.isHeldHere(chain.dir.root)).toBe(false)
  })

  it('is not upgraded while another process holds seal.lock (an older Petal\'s `petal seal`, which takes no node.lock and read the layout at its open)', async () => {
    const { chain } = await chainWithFixture()
    const holder = await nodeLockHolder(chain.dir.root, 'seal.lock')
    // Before: upgraded under node.lock alone, while the older seal went on claiming records as rows of layout 1.
    const err = captured(() => Ingest.open({ chain, key: alice }))
    expect(err).toMatchObject({ code: 'INGEST_STORE_IN_USE', message: expect.stringContaining('another process holds seal.lock') })
    expect(layoutOf(chain.dir.pendingDb)).toBe('1')
    expect(NodeLock.isHeld(chain.dir.root)).toBe(false) // node.lock given back
    // As the hint says: once that seal has ended, the command is run again.
    await holder.stop()
    const ingest = Ingest.open({ chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    expect(layoutOf(chain.dir.pendingDb)).toBe(LAYOUT)
    expect([NodeLock.isHeld(chain.dir.root, 'seal.lock'), NodeLock.isHeldHere(chain.dir.root, 'seal.lock')]).toEqual([false, false])
  })

  it('gives node.lock back when taking seal.lock throws (a seal.lock that is no file; failed on the old code: node.lock kept)', async () => {
    const { chain } = await chainWithFixture()
    mkdirSync(join(chain.dir.root, 'seal.lock'))
    const err = captured(() => Ingest.open({ chain, key: alice }))
    expect(err).toMatchObject({ message: expect.stringContaining('seal.lock') })
    expect(layoutOf(chain.dir.pendingDb)).toBe('1')
    // Before: this process kept node.lock, so its next take (a node's start in it) was ALREADY_RUNNING.
    expect(NodeLock.isHeldHere(chain.dir.root)).toBe(false)
    expect(NodeLock.isHeld(chain.dir.root)).toBe(false)
  })

  it('is not upgraded while another process has pending.db open (an older Petal\'s `petal seal` between its open, which read layout 1, and its seal.lock; failed on the old code: upgraded under it)', async () => {
    const { chain } = await chainWithFixture()
    // As an older Petal's open leaves it: WAL mode, the layout read, the connection kept.
    const holder = await nodeLockHolder(chain.dir.root, 'pending.db', "db.pragma('journal_mode = WAL'); db.prepare(\"SELECT value FROM meta WHERE key = 'layout'\").get()")
    const err = captured(() => Ingest.open({ chain, key: alice }))
    expect(err).toMatchObject({ code: 'INGEST_STORE_IN_USE', message: expect.stringContaining('another process has it open') })
    expect(layoutOf(chain.dir.pendingDb)).toBe('1')
    expect([NodeLock.isHeld(chain.dir.root), NodeLock.isHeld(chain.dir.root, 'seal.lock')]).toEqual([false, false])
    // As the hint says: once that command has ended, this one is run again.
    await holder.stop()
    const ingest = Ingest.open({ chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    expect(layoutOf(chain.dir.pendingDb)).toBe(LAYOUT)
    expect((await ingest.append('t', [{ a: 9n }])).receipts).toHaveLength(1)
  })

  it('is upgraded when the node lock is this process\'s own', async () => {
    const { chain } = await chainWithFixture()
    const lock = NodeLock.tryAcquire(chain.dir.root)
    expect(lock).toBeDefined()
    cleanup.push(() => { lock?.release() })
    expect(NodeLock.isHeld(chain.dir.root)).toBe(true)
    const ingest = Ingest.open({ chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    expect(layoutOf(chain.dir.pendingDb)).toBe(LAYOUT)
    // Still this process's: the upgrade did not release a lock it did not take.
    expect(NodeLock.isHeldHere(chain.dir.root)).toBe(true)
  })

  it('a pending row this Petal cannot decode fails the seal with INGEST_ROW_UNREADABLE and stays pending, not set aside', async () => {
    const { chain } = await newTestChain({ key: alice })
    cleanup.push(() => { chain.close() })
    const ingest = Ingest.open({ chain, key: alice })
    cleanup.push(async () => { await ingest.close() })
    const { receipts } = await ingest.append('t', [{ a: 1n }])
    // As a newer Petal might write it: a value tag this one does not know.
    const db = new Database(chain.dir.pendingDb)
    db.prepare('UPDATE rows SET data = ?').run(Buffer.from([0x01, 0x00, 0x09]))
    db.close()
    await expect(ingest.sealNow()).rejects.toMatchObject({ code: 'INGEST_ROW_UNREADABLE', hint: expect.stringContaining('same version of Petal') })
    expect(ingest.receipt(receipts[0] as string)?.state).toBe('pending')
    expect(ingest.store.problemOf(1)).toBeUndefined()
  })
})

describe('the pending row encoding', () => {
  const table: TableSchema = { name: 't', sql: '', columns: ['a', 'b', '__proto__', 'ü'].map(name => ({ name, kind: 'ANY' as const })) }
  const wide: TableSchema = { name: 't', sql: '', columns: Array.from({ length: 300 }, (_, i) => ({ name: `c${i}`, kind: 'ANY' as const })) }

  it('round-trips every kind of value, the field order, absent fields and column indexes over one byte', () => {
    const enc = new PendingRowEncoder()
    const proto = {}
    Object.defineProperty(proto, '__proto__', { value: 'own', enumerable: true })
    const rows = [
      { b: 'x'.repeat(200), a: -(2n ** 63n) },
      { a: 2n ** 63n - 1n, b: -0.0, ü: new Uint8Array(70_000).fill(7) },
      { ü: null },
      {},
      proto
    ]
    for (const r of rows) {
      const d = decodePendingRow(enc.encode(r, table), table.columns)
      expect(Object.keys(d)).toEqual(Object.keys(r))
      expect(d).toEqual(r)
    }
    const far = { c299: 'last', c0: 1n, c128: 2.5 }
    expect(decodePendingRow(enc.encode(far, wide), wide.columns)).toEqual(far)
    // Per field a byte for its column (layout 1 wrote the name and a 4-byte length), a tag, the value.
    expect(enc.encode({ a: 1n, b: 'x' }, table).byteLength).toBe(1 + (1 + 1 + 8) + (1 + 1 + 1 + 1))
  })

  it('refuses a row naming a column its table does not have, cut short, or of an unknown layout, with INGEST_ROW_UNREADABLE', () => {
    const d = new PendingRowEncoder().encode({ a: 1n, ü: 'text' }, table)
    const unreadable = (message: RegExp): unknown => expect.objectContaining({ code: 'INGEST_ROW_UNREADABLE', message: expect.stringMatching(message) })
    expect(() => decodePendingRow(d, table.columns.slice(0, 2))).toThrow(unreadable(/column 3 of a table with 2 columns/))
    expect(() => decodePendingRow(d.subarray(0, d.length - 1), table.columns)).toThrow(unreadable(/cut short/))
    expect(() => decodePendingRow(Buffer.from([7, 0, 0]), table.columns)).toThrow(unreadable(/unknown layout/))
    expect(() => decodePendingRow(Buffer.from([1, 0, 9]), table.columns)).toThrow(unreadable(/unknown value tag 9/))
    // A layout-1 row cut short reads past its end (a RangeError inside): the same refusal.
    expect(() => decodePendingRow(Buffer.from([0, 0, 0, 1, 0, 0, 0, 9, 0x61]), table.columns)).toThrow(unreadable(/./))
    expect(() => new PendingRowEncoder().encode({ zz: 1n }, table)).toThrow(/not a column/)
  })
})
