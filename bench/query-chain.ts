// A chain of real signed blocks, each holding ROWS rows of table t(k, v), built once per machine
// and cached (building it is not what the benches measure). Used by the query and startup benches.
import Database from 'better-sqlite3'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { buildBlock, computeManifest, headerToMeta, inspectSchema, signPrevious, signSeal, type BlockHeader } from '../src/block/index.js'
import { createChain, reindexChain } from '../src/chain/index.js'
import { generateSigningKey, privateKeyToPem, sha256Hex, type SigningKey } from '../src/crypto/index.js'
import { DEFAULT_CONSENSUS, writeSealFile } from '../src/storage/index.js'
import { formatTimestamp } from '../src/util/index.js'
import { benchCacheDir } from './cache.js'

export const GROUPS = 100

/** Row `i` of block `h`: (k, v). */
function rowOf (h: number, i: number): [string, number] {
  return [`k${(h * 7 + i) % GROUPS}`, (h * 1_000_003 + i * 7919) % 100_000]
}

function blockSource (h: number, rows: number): Buffer {
  const db = new Database(':memory:')
  db.exec('CREATE TABLE t (k TEXT, v INTEGER)')
  const ins = db.prepare('INSERT INTO t VALUES (?, ?)')
  for (let i = 0; i < rows; i++) ins.run(...rowOf(h, i))
  const bytes = db.serialize()
  db.close()
  return bytes
}

/** Write a block file and its seal into the data directory. */
function place (dest: string, bytes: Buffer, seal: string): void {
  mkdirSync(dirname(dest), { recursive: true })
  writeFileSync(dest, bytes, { flag: 'wx' })
  writeSealFile(dest, seal)
}

/**
 * Block 1's file, in memory, made block `height` in turn: its rows those blockSource gives that
 * height (the same number of rows), `_tables` and `_meta` written again as the block module writes
 * them (the manifest computed from the rows, the previous hash signed). Whatever SQLite makes of the
 * pages, reindex validates the file as any block's.
 */
function rebuilder (template: Buffer, first: BlockHeader, key: SigningKey, rows: number): { at: (height: number, previousHash: string, timestamp: string) => { file: Buffer, header: BlockHeader }, close: () => void } {
  const db = new Database(template)
  const set = db.prepare('UPDATE t SET k = ?, v = ? WHERE rowid = ?')
  const insTable = db.prepare('INSERT INTO _tables (name, sql, rows, root) VALUES (?, ?, ?, ?)')
  const insMeta = db.prepare('INSERT INTO _meta (key, value) VALUES (?, ?)')
  const tables = inspectSchema(db, 2).userTables
  const write = db.transaction((height: number, previousHash: string, timestamp: string): BlockHeader => {
    for (let i = 0; i < rows; i++) set.run(...rowOf(height, i), i + 1)
    const manifest = computeManifest(db, tables)
    db.exec('DELETE FROM _tables; DELETE FROM _meta')
    for (const e of manifest.tables) insTable.run(e.name, e.sql, e.rows, e.root)
    const header = { ...first, height, previousHash, previousHashSignature: signPrevious(key, first.chainId, height, previousHash), timestamp, time: Date.parse(timestamp), rowsRoot: manifest.rowsRoot }
    for (const [k, v] of headerToMeta(header)) insMeta.run(k, v)
    return header
  })
  return {
    at: (height, previousHash, timestamp) => {
      const header = write(height, previousHash, timestamp)
      return { file: db.serialize(), header }
    },
    close: () => { db.close() }
  }
}

/**
 * The data directory of a `blocks`-block chain: blocks sealed on top of each other (the first by
 * the block module, the rest rewritten from it: rebuilder above), written into the data directory's layout, then `reindex` validates every one of
 * them and builds chain.db. Its signing key is in bench-key.pem.
 */
export async function cachedQueryChain (blocks: number, rows: number): Promise<string> {
  const cache = benchCacheDir(`query-${blocks}x${rows}`)
  if (existsSync(join(cache, 'complete'))) return cache
  rmSync(cache, { recursive: true, force: true })
  const building = `${cache}.building-${process.pid}`
  const key = generateSigningKey()
  const t0 = performance.now()
  const chain = await createChain(building, { creator: 'bench', description: 'query bench', bootstrapPeers: [], consensus: DEFAULT_CONSENSUS }, key)
  const genesis = chain.tip()
  const t = Date.parse(genesis.timestamp)
  const work = mkdtempSync(join(tmpdir(), 'petal-bench-src-'))
  // Block 1 is built by the block module from its source file; every later block is that file with
  // its rows, `_tables` and `_meta` rewritten in memory (the same rows as a build from its own source
  // would hold, so the same manifest), hashed and sealed here: a build from a file cost ~5-9 ms of
  // CPU a block (most of it the file system: the source, the copy, SQLite's opens), which made a
  // 100,000-block chain take most of an hour on a loaded machine. reindex validates every block below.
  if (blocks < 1) throw new Error('a bench chain has at least one block above its genesis')
  const src = join(work, 'src.db')
  writeFileSync(src, blockSource(1, rows))
  const out = join(work, 'b1.db')
  const first = await buildBlock({ source: src, output: out, key, chainId: chain.chainId, height: 1, previousHash: genesis.hash, timestamp: formatTimestamp(t + 1), maxBytes: chain.params.maxBlockBytes })
  const template = readFileSync(out)
  place(chain.dir.blockPath(1), template, first.seal)
  let prevHash = first.hash
  const next = rebuilder(template, first.header, key, rows)
  for (let h = 2; h <= blocks; h++) {
    const b = next.at(h, prevHash, formatTimestamp(t + h))
    const hash = sha256Hex(b.file)
    place(chain.dir.blockPath(h), b.file, signSeal(key, b.header, hash))
    prevHash = hash
    if (h % 10_000 === 0) process.stderr.write(`  building the bench chain: ${h}/${blocks} blocks (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`)
  }
  next.close()
  process.stderr.write(`  bench chain's ${blocks} blocks written in ${((performance.now() - t0) / 1000).toFixed(0)} s; reindex validates them\n`)
  chain.close()
  rmSync(work, { recursive: true, force: true })
  // An index that stops at genesis would take the files above it for crash leftovers: start empty.
  for (const s of ['', '-wal', '-shm']) rmSync(join(building, `chain.db${s}`), { force: true })
  const r = await reindexChain(building, { workers: 2 })
  if (r.tipHeight !== blocks) throw new Error(`bench chain reindexed to ${r.tipHeight}`)
  writeFileSync(join(building, 'bench-key.pem'), privateKeyToPem(key))
  writeFileSync(join(building, 'complete'), '')
  renameSync(building, cache)
  process.stderr.write(`  bench chain built and validated in ${((performance.now() - t0) / 1000).toFixed(0)} s (cached in ${cache})\n`)
  return cache
}
