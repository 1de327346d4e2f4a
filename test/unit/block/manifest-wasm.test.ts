// The manifest's WebAssembly modules compiled in one place and used in another (verify --deep's
// workers get them from the replay): a module graph that adopts them never generates its own,
// hashes with them exactly as it would with its own, and refuses a module of other exports.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { inspectSchema, manifestWasm, openBlockReadonly, tableRoot } from '../../../src/block/index.js'
import { tmpDir } from '../../helpers/tmp.js'

type LeafWasm = typeof import('../../../src/block/leaf-wasm.js')
type FastRows = typeof import('../../../src/block/fast-rows.js')

/** A fresh copy of the block and crypto modules (no module compiled in it yet). */
async function freshGraph (): Promise<{ leaf: LeafWasm, fast: FastRows }> {
  vi.resetModules()
  return { leaf: await import('../../../src/block/leaf-wasm.js'), fast: await import('../../../src/block/fast-rows.js') }
}

function tableFile (rows: number): string {
  const path = join(tmpDir(), 't.db')
  const db = new Database(path)
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, n INTEGER, r REAL)')
  const ins = db.prepare('INSERT INTO t (s, n, r) VALUES (?, ?, ?)')
  db.transaction(() => { for (let i = 0; i < rows; i++) ins.run(`row ${i}`, i * 7, i / 3) })()
  db.close()
  return path
}

describe('manifest WebAssembly modules shared between threads', () => {
  // The WebAssembly fallback's modules: the native hasher off (with it, there is no SHA-256 module; below).
  beforeAll(() => { vi.stubEnv('PETAL_NATIVE_SHA256', '0') })
  afterAll(() => { vi.unstubAllEnvs() })

  it('a graph that adopts the modules uses them (never generating its own) and gives the reference root', async () => {
    const path = tableFile(5000)
    const mine = manifestWasm()
    const { leaf, fast } = await freshGraph()
    leaf.adoptManifestWasm(mine)
    // The same objects back: this graph compiled nothing of its own.
    const got = leaf.manifestWasm()
    expect(got.leaf).toBe(mine.leaf)
    expect(got.sha).toBe(mine.sha)
    const db = openBlockReadonly(path)
    try {
      const t = inspectSchema(db, 2).userTables[0]
      if (t === undefined) throw new Error('no table')
      const plan = fast.planFastTable(db, t)
      if (plan === undefined) throw new Error('no plan')
      const r = fast.fastTableRoot(path, plan, undefined, 'wasm')
      expect(r.wasmRows).toBe(5000)
      const ref = tableRoot(db, t)
      expect({ rows: r.rows, root: Buffer.from(r.root).toString('hex') }).toEqual(ref)
    } finally {
      db.close()
    }
  })

  it('a graph that has its own modules keeps them', async () => {
    const { leaf } = await freshGraph()
    const own = leaf.manifestWasm()
    leaf.adoptManifestWasm(manifestWasm())
    expect(leaf.manifestWasm()).toEqual(own)
    expect(leaf.manifestWasm().sha).toBe(own.sha)
  })

  it('refuses modules of other exports (the two swapped)', async () => {
    const mine = manifestWasm()
    const sha = mine.sha
    if (sha === undefined) throw new Error('no SHA-256 module with the native hasher off')
    const { leaf } = await freshGraph()
    expect(() => { leaf.adoptManifestWasm({ leaf: sha, sha: mine.leaf }) }).toThrow(TypeError)
    const { leaf: again } = await freshGraph()
    expect(() => { again.adoptManifestWasm({ leaf: sha, sha }) }).toThrow(/leaf encoder/)
  })

  it('the modules cross postMessage to another thread as compiled modules', async () => {
    const mine = manifestWasm()
    const w = new Worker(`const { parentPort } = require('node:worker_threads'); parentPort.once('message', m => parentPort.postMessage([m.leaf, m.sha].map(x => x instanceof WebAssembly.Module ? WebAssembly.Module.exports(x).map(e => e.name).sort().join() : typeof x)))`, { eval: true })
    try {
      const reply = new Promise(resolve => w.once('message', resolve))
      w.postMessage(mine)
      expect(await reply).toEqual(['page', 'leaves,memory,pairs'])
    } finally {
      await w.terminate()
    }
  })
})
