import Database from 'better-sqlite3'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { AppendStore } from '../../../src/ingest/append-store.js'
import { Ingest } from '../../../src/ingest/index.js'
import { PendingStore } from '../../../src/ingest/store.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { canonicalRows } from '../../helpers/ingest.js'

const alice = fixtureKey('alice')
const cleanup: Array<() => unknown> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

async function setup (): Promise<Ingest> {
  const { chain } = await newTestChain({ key: alice })
  const ingest = Ingest.open({ chain, key: alice })
  cleanup.push(() => { chain.close() }, async () => { await ingest.close() })
  return ingest
}

/** Another process holding pending.db's write lock (BEGIN IMMEDIATE) until its stdin closes; resolves once it holds it. */
async function lockHolder (path: string): Promise<ChildProcess> {
  const script = `const db = new (require('better-sqlite3'))(${JSON.stringify(path)}); db.exec('BEGIN IMMEDIATE'); db.prepare("INSERT INTO meta (key, value) VALUES ('held', '1')").run(); process.stdout.write('locked\\n'); process.stdin.resume(); process.stdin.on('end', () => { db.exec('ROLLBACK'); db.close(); process.exit(0) })`
  const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] })
  cleanup.push(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('locked')) resolve() })
    child.on('exit', code => { reject(new Error(`the lock holder exited (${String(code)})`)) })
  })
  return child
}

const release = async (child: ChildProcess): Promise<void> => {
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.stdin?.end()
  await exited
}

describe('appends on their own connection to pending.db', () => {
  it('keeps the busy timeout of 0 on the append connection only: reads and the sealer\'s writes keep their 5 s wait', async () => {
    const ingest = await setup()
    expect(ingest.appends).not.toBe(ingest.store)
    expect(ingest.appends.db.pragma('busy_timeout', { simple: true })).toBe(0)
    expect(ingest.store.db.pragma('busy_timeout', { simple: true })).toBe(5000)
    await ingest.append('t', [{ n: 1n }])
    await ingest.sealNow()
    expect(ingest.store.db.pragma('busy_timeout', { simple: true })).toBe(5000)
    expect(ingest.appends.db.pragma('busy_timeout', { simple: true })).toBe(0)
    for (const s of [ingest.store, ingest.appends]) expect(s.db.pragma('synchronous', { simple: true })).toBe(2)
  })

  // cached: the table was read by an append before, so the lone row is the one statement's
  // (AppendStore.appendAlone), which must find the lock held and leave the row to the transaction.
  for (const cached of [false, true]) it(`while another process holds the write lock, an append waits without blocking the event loop, then commits once it is released${cached ? ' (the one-statement append of a lone row)' : ''}`, async () => {
    const ingest = await setup()
    await ingest.append('t', [{ n: 1n }]) // the table exists: the next append is the lane's
    if (cached) await ingest.append('t', [{ n: 1n }])
    const alone = vi.spyOn(ingest.appends, 'appendAlone')
    const holder = await lockHolder(ingest.chain.dir.pendingDb)
    let done = false
    const p = ingest.appendRecords('t', Buffer.from('[{"n": 2}]'), 'json').then(r => { done = true; return r })
    // Timers keep firing (the event loop is not held by SQLite's busy wait), and reads answer. A
    // loop held for the whole wait fires the 5 ms timer at most once; a loaded machine may delay
    // it (9 ticks seen at load 10), so the bar is a few ticks, not a rate.
    let ticks = 0
    const timer = setInterval(() => { ticks++ }, 5)
    await new Promise(resolve => setTimeout(resolve, 300))
    clearInterval(timer)
    expect(ticks).toBeGreaterThanOrEqual(3)
    expect(done, 'acknowledged while another process held the write lock').toBe(false)
    expect(ingest.stats().pendingRows).toBe(cached ? 2 : 1)
    if (cached) expect(alone.mock.results[0]).toEqual({ type: 'return', value: undefined })
    await release(holder)
    const r = await p
    expect(r.receipts).toHaveLength(1)
    expect(ingest.receipt(r.receipts[0] as string)?.state).toBe('pending')
    await ingest.sealNow()
    expect(canonicalRows(ingest.chain, 't').map(row => row.values)).toEqual([...(cached ? [{ n: 1n }] : []), { n: 1n }, { n: 2n }])
  })

  it('an append aborted while it waits for another process\'s write lock is refused once the lock is released, and stores nothing', async () => {
    const ingest = await setup()
    await ingest.append('t', [{ n: 1n }])
    const holder = await lockHolder(ingest.chain.dir.pendingDb)
    const ac = new AbortController()
    let settled = false
    const p = ingest.append('t', [{ n: 2n }], { signal: ac.signal }).then(() => undefined, (err: unknown) => err).finally(() => { settled = true })
    await new Promise(resolve => setTimeout(resolve, 50))
    ac.abort()
    // The group it waits in keeps waiting for the write lock; its aborted appends are refused when
    // the group runs (GroupCommit.flush), not at once.
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(settled).toBe(false)
    await release(holder)
    expect(await p).toMatchObject({ code: 'ABORTED' })
    expect(ingest.stats().pendingRows).toBe(1)
    // The connection is usable after the abandoned wait.
    expect((await ingest.append('t', [{ n: 3n }])).receipts).toHaveLength(1)
  })

  it('a table declared on the main connection is seen by the next append on the append connection', async () => {
    const ingest = await setup()
    await ingest.append('t', [{ n: 1n }])
    await ingest.putTable('d', 'CREATE TABLE d (k INTEGER NOT NULL, v TEXT)')
    await expect(ingest.append('d', [{ v: 'x' }])).rejects.toMatchObject({ code: 'INGEST_CONSTRAINT' })
    expect((await ingest.appendRecords('d', Buffer.from('[{"k": 1, "v": "y"}]'), 'json')).receipts).toHaveLength(1)
  })

  it('the append connection is refused when pending.db was replaced, or made a link, after the main connection opened it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'petal-append-store-'))
    cleanup.push(() => { rmSync(dir, { recursive: true, force: true }) })
    const path = join(dir, 'pending.db')
    // Each file whole, its log copied in (a close leaves the log since session 39): a file put in
    // pending.db's place beside pending.db's own -wal would be read through that log.
    const whole = (p: string): void => { PendingStore.open(p).close(); const db = new Database(p); db.pragma('wal_checkpoint(TRUNCATE)'); db.close() }
    whole(path)
    whole(join(dir, 'other.db'))
    const main = PendingStore.open(path)
    cleanup.push(() => { main.close() })
    const check = AppendStore.of(main) // the same file: accepted
    expect(check.instance).toBe(main.instance)
    check.close()
    renameSync(join(dir, 'other.db'), path)
    expect(() => AppendStore.of(main)).toThrow(expect.objectContaining({ code: 'INGEST_STORE_UNAVAILABLE', message: expect.stringContaining('replaced') }))
    rmSync(path)
    symlinkSync(join(dir, 'elsewhere.db'), path)
    expect(() => AppendStore.of(main)).toThrow(expect.objectContaining({ code: 'DATA_FILE_NOT_REGULAR' }))
  })

  it('once synchronous=FULL cannot be restored after a deferred commit, no write is made or acknowledged any more', async () => {
    const ingest = await setup()
    await ingest.append('t', [{ n: 1n }])
    const store = ingest.appends
    const stmt = store.stmt.bind(store)
    let fail = true
    vi.spyOn(store, 'stmt').mockImplementation(sql => {
      if (fail && sql === 'PRAGMA synchronous = FULL') { fail = false; throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' }) }
      return stmt(sql)
    })
    await expect(store.write(() => 1, undefined, { deferSync: true })).rejects.toMatchObject({ code: 'IO_ERROR' })
    // The connection may still be at NORMAL: a write now would commit without its fsync.
    await expect(store.write(() => 2)).rejects.toMatchObject({ code: 'IO_ERROR' })
    await expect(ingest.append('t', [{ n: 2n }])).rejects.toMatchObject({ code: 'IO_ERROR' })
    expect(ingest.stats().pendingRows).toBe(1)
  })
})
