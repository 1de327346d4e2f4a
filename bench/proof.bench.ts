// Proof benchmarks (issue 11): a row of a block of 1 M rows on a chain tree of 10,000 blocks —
// proof size, time to build (cold: the first proof of the table, which hashes it once into chunk
// roots; warm: later proofs) and to verify; the chain tree's update per accepted block in chain.db.
// Each figure is printed next to a reference measured in the same run.
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createChain, signImport } from '../src/chain/index.js'
import { generateSigningKey, leafHash, sha256File } from '../src/crypto/index.js'
import {
  buildProofBundle, chainLeafHash, chainLeafOf, chunkCache, createCheckpoint, MemoryNodeStore, parseTrustFile, proveQueryAnswer, signatoryVkey,
  signTipCheckpoints, verifyProof
} from '../src/proof/index.js'
import { QueryMirror } from '../src/query/index.js'
import { DEFAULT_CONSENSUS, IndexDb, openSqliteReadonly } from '../src/storage/index.js'
import { printTable, timeIt, type Row } from './report.js'

const ROWS = 1_000_000
const CHAIN = 10_000
const root = mkdtempSync(join(tmpdir(), 'petal-bench-proof-'))

function bigTable (path: string): string {
  const db = new Database(path)
  db.pragma('journal_mode = OFF')
  db.exec('CREATE TABLE readings (id INTEGER PRIMARY KEY, sensor TEXT, at INTEGER, value REAL, note TEXT)')
  const ins = db.prepare('INSERT INTO readings VALUES (?, ?, ?, ?, ?)')
  db.transaction(() => { for (let i = 1; i <= ROWS; i++) ins.run(i, `sensor-${i % 97}`, 1_700_000_000 + i, i * 0.25, `reading number ${i}`) })()
  db.close()
  return path
}

async function main (): Promise<void> {
  const key = generateSigningKey()
  const chain = await createChain(join(root, 'chain'), { creator: 'bench', description: 'proof', bootstrapPeers: [], consensus: { ...DEFAULT_CONSENSUS, maxBlockBytes: 512 * 1024 * 1024 } }, key)
  const r = await signImport(chain, bigTable(join(root, 'big.db')), key)
  const path = chain.dir.blockPath(r.block.height)

  // A chain tree of 10,000 leaves whose first two are this chain's real blocks.
  const tree = new MemoryNodeStore()
  for (const b of chain.index.range(0, 1)) tree.append(chainLeafHash(chainLeafOf(b)))
  for (let i = 2; i < CHAIN; i++) tree.append(leafHash(Buffer.from(`synthetic block ${i}`)))
  const checkpoint = createCheckpoint({ chainId: chain.chainId, tree, tip: CHAIN - 1, maxReorgDepth: chain.params.maxReorgDepth, keys: [key] })
  const cache = chunkCache(join(root, 'proof-cache.db'))
  const rowid = 765_432n
  const build = async (): Promise<string> => JSON.stringify(await buildProofBundle([{ path, hash: r.block.hash, rows: [{ table: 'readings', rowid }] }], { chainId: chain.chainId, tree, checkpoint, chunks: cache }))

  // Cold: the table's first proof hashes it once; reference: the table's root hashed once (as import does).
  let t = performance.now()
  const proof = await build()
  const cold = performance.now() - t
  const ref = new Database(path, { readonly: true })
  const { tableRoot, readBlockFile } = await import('../src/block/index.js')
  const file = await readBlockFile(path, { maxBytes: Number.MAX_SAFE_INTEGER, quickCheck: false, checkManifest: false })
  const table = file.userTables.find(x => x.name === 'readings')
  if (table === undefined) throw new Error('no table')
  t = performance.now()
  tableRoot(ref, table)
  const fullPass = performance.now() - t
  const warm = await timeIt(build, 21)
  const lookup = await timeIt(() => ref.prepare('SELECT * FROM readings WHERE id = ?').get(rowid), 201)
  const trust = await parseTrustFile(new TextEncoder().encode(await signatoryVkey(chain.chainId, key)))
  if (typeof trust === 'string') throw new Error(trust)
  if (!(await verifyProof(proof, trust)).ok) throw new Error('the proof does not verify')
  const verify = await timeIt(async () => await verifyProof(proof, trust), 51)
  const sha = await timeIt(() => sha256File(path), 3)
  ref.close()

  // The chain tree in chain.db: 10,000 appends, one transaction each (as accept does), against an
  // INSERT of one 32-byte row per transaction in a database on the same disk with chain.db's
  // settings (WAL, synchronous=FULL).
  const idx = IndexDb.open(join(root, 'tree.db'))
  const leaves = Array.from({ length: 2000 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)))
  const plainDb = new Database(join(root, 'plain.db'))
  plainDb.pragma('journal_mode = WAL')
  plainDb.pragma('synchronous = FULL')
  plainDb.exec('CREATE TABLE plain (k INTEGER PRIMARY KEY, v BLOB)')
  const plainInsert = plainDb.prepare('INSERT INTO plain (v) VALUES (?)')
  const plain = { run: (v: Uint8Array | undefined) => { plainDb.transaction(() => plainInsert.run(v))() } }
  let appendMs = 0
  let insertMs = 0
  for (const [i, l] of leaves.entries()) {
    t = performance.now()
    await idx.withWriteLock(async () => { idx.tree.append(l) })
    appendMs += performance.now() - t
    t = performance.now()
    plain.run(leaves[i])
    insertMs += performance.now() - t
  }
  const reads = await timeIt(() => idx.tree.readNodes([{ level: 0, index: 5 }, { level: 3, index: 7 }, { level: 6, index: 3 }, { level: 9, index: 1 }, { level: 10, index: 0 }]), 201)
  idx.close()
  plainDb.close()

  // query --prove: proofs of every row of an answer (100 rows of the 1 M-row table, against the
  // chain's own signed checkpoint), against the same statement on the mirror without proofs.
  await signTipCheckpoints(chain, key)
  const mirror = QueryMirror.open(chain)
  await mirror.sync()
  mirror.close()
  const mdb = openSqliteReadonly(chain.dir.queryDb)
  const sql = 'SELECT * FROM readings WHERE id BETWEEN 500001 AND 500100'
  const proved = await proveQueryAnswer(chain, mdb, sql)
  if (proved.rows !== 100 || !(await verifyProof(JSON.stringify(proved.doc), trust)).ok) throw new Error('query --prove did not prove its 100 rows')
  const queryProve = await timeIt(async () => await proveQueryAnswer(chain, mdb, sql), 11)
  const queryPlain = await timeIt(() => mdb.prepare(sql).all(), 51)
  mdb.close()

  const rows: Row[] = [
    { figure: 'row proof size (1 M-row table, 10,000-block chain)', value: Buffer.byteLength(proof), unit: 'B', note: 'goal < 5,120 B' },
    { figure: 'build, first proof of the table (chunk roots computed)', value: cold, unit: 'ms', reference: 'hash the table once (import)', refValue: fullPass },
    { figure: 'build, warm (chunk roots cached)', value: warm, unit: 'ms', reference: 'SELECT the row by rowid', refValue: lookup, note: 'goal < 10 ms' },
    { figure: 'verify (offline verifier, WebCrypto)', value: verify, unit: 'ms', reference: 'sha256 of the block file', refValue: sha, note: 'goal < 2 ms' },
    { figure: 'chain tree append per accepted block (own tx)', value: appendMs / leaves.length * 1000, unit: 'µs', reference: 'one-row INSERT per tx, same db', refValue: insertMs / leaves.length * 1000 },
    { figure: 'chain tree: 5 nodes in one query (one proof)', value: reads * 1000, unit: 'µs' },
    { figure: 'query --prove, 100 rows of the 1 M-row table (warm)', value: queryProve, unit: 'ms', reference: 'the same statement without proofs', refValue: queryPlain, note: `bundle ${Buffer.byteLength(JSON.stringify(proved.doc)).toLocaleString('en')} B` }
  ]
  printTable('Proofs (row of a 1 M-row block, 10,000-leaf chain tree)', rows)
  chain.close()
}

main().finally(() => { rmSync(root, { recursive: true, force: true }) }).catch((err: unknown) => { console.error(err); process.exitCode = 1 })
