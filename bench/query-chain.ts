// A chain of real signed blocks, each holding ROWS rows of table t(k, v), built once per machine
// and cached (building it is not what the benches measure). Used by the query and startup benches.
import Database from 'better-sqlite3'
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildBlock } from '../src/block/index.js'
import { createChain, reindexChain } from '../src/chain/index.js'
import { generateSigningKey, privateKeyToPem } from '../src/crypto/index.js'
import { DEFAULT_CONSENSUS, writeSealFile } from '../src/storage/index.js'
import { formatTimestamp } from '../src/util/index.js'
import { benchCacheDir } from './cache.js'

export const GROUPS = 100

function blockSource (h: number, rows: number): Buffer {
  const db = new Database(':memory:')
  db.exec('CREATE TABLE t (k TEXT, v INTEGER)')
  const ins = db.prepare('INSERT INTO t VALUES (?, ?)')
  for (let i = 0; i < rows; i++) ins.run(`k${(h * 7 + i) % GROUPS}`, (h * 1_000_003 + i * 7919) % 100_000)
  const bytes = db.serialize()
  db.close()
  return bytes
}

/**
 * The data directory of a `blocks`-block chain: blocks sealed with the block module on top of
 * each other, written into the data directory's layout, then `reindex` validates every one of
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
  let prevHash = genesis.hash
  for (let h = 1; h <= blocks; h++) {
    const src = join(work, 'src.db')
    writeFileSync(src, blockSource(h, rows))
    const out = join(work, `b${h}.db`)
    const built = await buildBlock({ source: src, output: out, key, chainId: chain.chainId, height: h, previousHash: prevHash, timestamp: formatTimestamp(t + h), maxBytes: chain.params.maxBlockBytes })
    const dest = chain.dir.blockPath(h)
    mkdirSync(join(dest, '..'), { recursive: true })
    renameSync(out, dest)
    writeSealFile(dest, built.seal)
    prevHash = built.hash
    if (h % 1000 === 0) process.stderr.write(`  building the bench chain: ${h}/${blocks} blocks (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`)
  }
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
