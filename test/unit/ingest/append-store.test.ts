import { spawn, type ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { Ingest } from '../../../src/ingest/index.js'
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

  it('while another process holds the write lock, an append waits without blocking the event loop, then commits once it is released', async () => {
    const ingest = await setup()
    await ingest.append('t', [{ n: 1n }]) // the table exists: the next append is the lane's
    const holder = await lockHolder(ingest.chain.dir.pendingDb)
    let done = false
    const p = ingest.appendRecords('t', Buffer.from('[{"n": 2}]'), 'json').then(r => { done = true; return r })
    // Timers keep firing (the event loop is not held by SQLite's busy wait), and reads answer.
    let ticks = 0
    const timer = setInterval(() => { ticks++ }, 5)
    await new Promise(resolve => setTimeout(resolve, 300))
    clearInterval(timer)
    expect(ticks).toBeGreaterThan(10)
    expect(done, 'acknowledged while another process held the write lock').toBe(false)
    expect(ingest.stats().pendingRows).toBe(1)
    await release(holder)
    const r = await p
    expect(r.receipts).toHaveLength(1)
    expect(ingest.receipt(r.receipts[0] as string)?.state).toBe('pending')
    await ingest.sealNow()
    expect(canonicalRows(ingest.chain, 't').map(row => row.values)).toEqual([{ n: 1n }, { n: 2n }])
  })

  it('an append aborted while it waits for another process\'s write lock is refused, and stores nothing', async () => {
    const ingest = await setup()
    await ingest.append('t', [{ n: 1n }])
    const holder = await lockHolder(ingest.chain.dir.pendingDb)
    const ac = new AbortController()
    const p = ingest.append('t', [{ n: 2n }], { signal: ac.signal }).then(() => undefined, (err: unknown) => err)
    await new Promise(resolve => setTimeout(resolve, 50))
    ac.abort()
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
})
