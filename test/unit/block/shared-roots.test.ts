// A table's manifest computed in parts (block/shared-roots.ts: aligned chunks, some hashed by
// other threads) must equal the whole: the reference root through SQLite, on tables with overflow
// pages, small pages (many leaves per chunk and chunks that start inside a leaf), WITHOUT ROWID
// tables (never split: the whole path), and whether helper threads answer, fail or fall silent.
import { afterEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { inspectSchema, openBlockReadonly, tableRoot, tableRootParallel, TableShare, type UserTable } from '../../../src/block/index.js'
import { fastTableLeaves, planFastTable } from '../../../src/block/fast-rows.js'
import { chunksOf, SHARE_CHUNK_ROWS } from '../../../src/block/shared-roots.js'
import { workerScript } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'

let names = 0
const channel = (): string => `shared-roots-test-${process.pid}-${++names}`
const workers: Worker[] = []
afterEach(async () => { await Promise.all(workers.splice(0).map(async w => await w.terminate())) })

/** A table of `rows` rows, every `big`-th with a value spread over overflow pages. */
function tableFile (o: { rows: number, pageSize?: number, big?: number, ddl?: string }): string {
  const path = join(tmpDir(), 'parts.db')
  const db = new Database(path)
  db.pragma(`page_size = ${o.pageSize ?? 4096}`)
  db.exec(o.ddl ?? 'CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, b BLOB, r REAL)')
  const ins = db.prepare('INSERT INTO t (id, s, b, r) VALUES (?, ?, ?, ?)')
  db.transaction(() => {
    for (let i = 0; i < o.rows; i++) ins.run(i * 3 + 1, `row ${i}`, o.big !== undefined && i % o.big === 0 ? Buffer.alloc(5000 + i % 900, i & 255) : Buffer.of(i & 255), i / 7)
  })()
  db.close()
  return path
}

/** The table's root in parts through `share` (with whoever listens), and the reference. */
function parts (path: string, share: TableShare): { got: { rows: number, root: string } | undefined, want: { rows: number, root: string } } {
  const db = openBlockReadonly(path)
  try {
    const t = inspectSchema(db, 2).userTables[0] as UserTable
    const plan = planFastTable(db, t)
    if (plan === undefined) throw new Error('no fast plan')
    const { pages, cells } = fastTableLeaves(path, plan)
    return { got: share.root(path, plan, pages, cells), want: tableRoot(db, t) }
  } finally {
    db.close()
  }
}

async function started (w: Worker): Promise<Worker> {
  workers.push(w)
  await new Promise(resolve => w.once('message', resolve))
  return w
}

async function helperThread (name: string): Promise<Worker> {
  const s = workerScript(import.meta.url, '../../helpers/share-helper-worker.js')
  if (!('file' in s)) throw new Error('expected a bundled worker entry')
  return await started(new Worker(s.file, { execArgv: s.execArgv, workerData: { name } }))
}

async function ask (w: Worker): Promise<number> {
  const reply = new Promise<number>(resolve => w.once('message', resolve))
  w.postMessage(0)
  return await reply
}

/**
 * A thread that takes chunks of every offer and marks them failed (`fail`), or takes them and
 * never answers (a thread that stopped): the owner must hash those itself. It reports how many it took.
 */
async function fakeHelper (name: string, fail: boolean): Promise<Worker> {
  return await started(new Worker(`
    const { BroadcastChannel, parentPort } = require('node:worker_threads')
    const bc = new BroadcastChannel(${JSON.stringify(name)})
    let taken = 0
    bc.onmessage = e => {
      const c = new Int32Array(e.data.control)
      for (let i = Atomics.add(c, 0, 1); i < e.data.chunks.length; i = Atomics.add(c, 0, 1)) {
        taken++
        if (${String(fail)}) { Atomics.compareExchange(c, 1 + i, 0, 2); Atomics.notify(c, 1 + i) }
      }
    }
    parentPort.on('message', () => parentPort.postMessage(taken))
    parentPort.postMessage('ready')`, { eval: true }))
}

describe('a table root in parts (shared-roots)', () => {
  it('chunks cover every row once, in order, in aligned chunks (the last may be shorter)', () => {
    const cells = [3, 5, 2, 7, 1, 0, 9, 4]
    for (const size of [1, 2, 4, 8, 64]) {
      const chunks = chunksOf(cells, size)
      const seen: string[] = []
      for (const c of chunks) {
        let skip = c.skip
        let left = c.take
        for (let leaf = c.first; leaf < c.end && left > 0; leaf++) {
          for (let k = skip; k < (cells[leaf] ?? 0) && left > 0; k++, left--) seen.push(`${leaf}:${k}`)
          skip = 0
        }
        expect(left).toBe(0)
      }
      expect(seen).toEqual(cells.flatMap((n, leaf) => Array.from({ length: n }, (_, k) => `${leaf}:${k}`)))
      expect(chunks.slice(0, -1).every(c => c.take === size)).toBe(true)
    }
  })

  it('alone (no thread listening): the reference root, with overflow pages and with 512-byte pages; a small table is not split', () => {
    const share = new TableShare(channel())
    try {
      for (const o of [{ rows: 3 * SHARE_CHUNK_ROWS + 77, big: 97 }, { rows: 2 * SHARE_CHUNK_ROWS + 5, pageSize: 512, big: 501 }]) {
        const { got, want } = parts(tableFile(o), share)
        expect(got).toEqual(want)
      }
      expect(parts(tableFile({ rows: 2 * SHARE_CHUNK_ROWS - 1 }), share).got).toBeUndefined()
    } finally {
      share.close()
    }
  })

  it('through tableRootParallel: rowid tables split, WITHOUT ROWID tables whole, each the reference root', async () => {
    const share = new TableShare(channel())
    try {
      for (const ddl of ['CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, b BLOB, r REAL)', 'CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, b BLOB, r REAL) WITHOUT ROWID', 'CREATE TABLE t (id INTEGER, s TEXT, b BLOB, r REAL)']) {
        const path = tableFile({ rows: 2 * SHARE_CHUNK_ROWS + 300, big: 50, ddl })
        const db = openBlockReadonly(path)
        try {
          const t = inspectSchema(db, 2).userTables[0] as UserTable
          expect(await tableRootParallel(path, db, t, undefined, undefined, undefined, share)).toEqual(tableRoot(db, t))
        } finally {
          db.close()
        }
      }
    } finally {
      share.close()
    }
  })

  it('with a helper thread: the reference root, and the helper hashed chunks of it', async () => {
    const name = channel()
    const helper = await helperThread(name)
    const share = new TableShare(name)
    try {
      const path = tableFile({ rows: 30 * SHARE_CHUNK_ROWS + 123, big: 1000 })
      // The helper joins when its thread gets the offer, which a starved machine may delay past the
      // whole table: tried until it did, every root checked.
      for (let i = 0; i < 10 && await ask(helper) === 0; i++) {
        const { got, want } = parts(path, share)
        expect(got).toEqual(want)
      }
      expect(await ask(helper)).toBeGreaterThan(0)
    } finally {
      share.close()
    }
  }, 60_000)

  for (const fail of [true, false]) {
    it(`a helper that ${fail ? 'fails its chunks' : 'takes chunks and falls silent'}: the owner hashes them itself, the reference root`, async () => {
      const name = channel()
      const fake = await fakeHelper(name, fail)
      const share = new TableShare(name)
      try {
        const path = tableFile({ rows: 12 * SHARE_CHUNK_ROWS + 9 })
        for (let i = 0; i < 10 && await ask(fake) === 0; i++) {
          const { got, want } = parts(path, share)
          expect(got).toEqual(want)
        }
        expect(await ask(fake)).toBeGreaterThan(0)
      } finally {
        share.close()
      }
    }, 60_000)
  }
})
