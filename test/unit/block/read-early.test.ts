// verify --deep's large tables offered to idle threads before the block's quick_check
// (block/read-early.ts): a block read with a share gets the same verdict as without, its offer is
// posted before quick_check (a block that fails it had no offer before), and a refused block's
// offers are withdrawn (no thread takes another chunk of them).
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { buildBlock, readBlockFile, TableShare } from '../../../src/block/index.js'
import { SHARE_CHUNK_ROWS } from '../../../src/block/shared-roots.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

const MAX = 1 << 26
let names = 0
const channel = (): string => `read-early-test-${process.pid}-${++names}`
const workers: Worker[] = []
afterEach(async () => { await Promise.all(workers.splice(0).map(async w => await w.terminate())) })

/** A block whose table t holds `rows` rows (one with s NULL). */
async function block (rows: number): Promise<string> {
  const dir = tmpDir()
  const src = join(dir, 'src.db')
  const db = new Database(src)
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, r REAL)')
  const ins = db.prepare('INSERT INTO t (s, r) VALUES (?, ?)')
  db.transaction(() => { for (let i = 0; i < rows; i++) ins.run(i === 7 ? null : `row ${i}`, i / 7) })()
  db.close()
  const out = join(dir, 'block.db')
  await buildBlock({ source: src, output: out, key: fixtureKey('alice'), chainId: 'aa'.repeat(32), height: 3, previousHash: 'bb'.repeat(32), timestamp: '2026-03-01T10:00:00.000Z', maxBytes: MAX })
  return out
}

/**
 * A thread that listens on the channel and takes no chunk: it answers a message with the offers
 * it got and how many of them are withdrawn (their next chunk past the last).
 */
async function listener (name: string): Promise<Worker> {
  const w = new Worker(`
    const { BroadcastChannel, parentPort } = require('node:worker_threads')
    const bc = new BroadcastChannel(${JSON.stringify(name)})
    const offers = []
    bc.onmessage = e => { offers.push(e.data) }
    parentPort.on('message', () => parentPort.postMessage({ offers: offers.length, withdrawn: offers.filter(o => new Int32Array(o.control)[0] >= o.chunks.length).length }))
    parentPort.postMessage('ready')`, { eval: true })
  workers.push(w)
  await new Promise(resolve => w.once('message', resolve))
  return w
}

async function ask (w: Worker): Promise<{ offers: number, withdrawn: number }> {
  const reply = new Promise<{ offers: number, withdrawn: number }>(resolve => w.once('message', resolve))
  w.postMessage(0)
  return await reply
}

describe('large tables offered before quick_check (read-early)', () => {
  it('a block read with a share: the same tables as without, its table offered once', async () => {
    const path = await block(3 * SHARE_CHUNK_ROWS + 11)
    const name = channel()
    const w = await listener(name)
    const share = new TableShare(name)
    try {
      const alone = await readBlockFile(path, { maxBytes: MAX })
      const shared = await readBlockFile(path, { maxBytes: MAX, share })
      expect(shared.tables).toEqual(alone.tables)
      // The offer is a message on the channel, which may reach the listener after the question.
      expect(await waitFor(async () => { const r = await ask(w); return r.offers > 0 ? r : undefined }, { what: 'the offer' })).toEqual({ offers: 1, withdrawn: 1 })
    } finally {
      share.close()
    }
  })

  it('a block that fails quick_check: CORRUPT as without a share, and its offer withdrawn', async () => {
    const path = await block(3 * SHARE_CHUNK_ROWS + 11)
    // s NOT NULL in the DDL while a row holds NULL: quick_check fails.
    const db = new Database(path)
    db.unsafeMode(true)
    db.pragma('writable_schema = ON')
    db.prepare("UPDATE sqlite_schema SET sql = replace(sql, 's TEXT', 's TEXT NOT NULL') WHERE name = 't'").run()
    db.close()
    const name = channel()
    const w = await listener(name)
    const share = new TableShare(name)
    try {
      await expect(readBlockFile(path, { maxBytes: MAX })).rejects.toMatchObject({ code: 'CORRUPT' })
      await expect(readBlockFile(path, { maxBytes: MAX, share })).rejects.toMatchObject({ code: 'CORRUPT' })
      // Offered before quick_check (no offer at all before read-early.ts), then withdrawn; once
      // per read (readBlockFile reads a CORRUPT file a second time, sqlite.ts's againIfCorrupt).
      const { offers, withdrawn } = await waitFor(async () => { const r = await ask(w); return r.offers > 0 ? r : undefined }, { what: 'an offer' })
      expect(withdrawn).toBe(offers)
    } finally {
      share.close()
    }
  })
})
