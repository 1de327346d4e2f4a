import Database from 'better-sqlite3'
import { join } from 'node:path'
import { Chain, createChain, signImport, verifyChain, type ImportResult, type VerifyReport } from '../../src/chain/index.js'
import { generateSigningKey, importPrivateKey, type SigningKey } from '../../src/crypto/index.js'
import { DEFAULT_CONSENSUS, type NewChainInput } from '../../src/storage/index.js'
import type { BlockHeader, GenesisParams } from '../../src/block/index.js'
import type { BlockRecord } from '../../src/storage/index.js'
import { cpSync, readFileSync } from 'node:fs'
import { tmpDir } from './tmp.js'

const FIXTURE_KEYS = join(import.meta.dirname, '..', 'fixtures', 'keys')

/** Deterministic test keys (committed PEM files): alice, bob, carol, dave, erin. */
export function fixtureKey (name: 'alice' | 'bob' | 'carol' | 'dave' | 'erin'): SigningKey {
  return importPrivateKey(readFileSync(join(FIXTURE_KEYS, `${name}.pem`), 'utf8'))
}

/** A small SQLite file with `rows` rows in table `t` (values derived from `seed`). */
export function makeSqlite (path: string, rows = 10, seed = 0, table = 't'): string {
  const db = new Database(path)
  db.exec(`CREATE TABLE IF NOT EXISTS "${table}" (id INTEGER PRIMARY KEY, k TEXT, v INTEGER, b BLOB)`)
  const ins = db.prepare(`INSERT INTO "${table}" (k, v, b) VALUES (?, ?, ?)`)
  db.transaction(() => {
    for (let i = 0; i < rows; i++) ins.run(`k${(i + seed) % 7}`, BigInt(seed * 1000 + i), Buffer.from([i & 255, seed & 255]))
  })()
  db.close()
  return path
}

export interface TestChain { chain: Chain, key: SigningKey, dir: string }

/** A new chain in a temp dir with `key` (default: a fresh key) as its only signatory. */
export async function newTestChain (o: { key?: SigningKey, consensus?: Partial<GenesisParams>, dir?: string, timestamp?: string } = {}): Promise<TestChain> {
  const key = o.key ?? generateSigningKey()
  const dir = o.dir ?? join(tmpDir(), 'data')
  const input: NewChainInput = { creator: 'test', description: 'test chain', bootstrapPeers: [], genesisTimestamp: o.timestamp, consensus: { ...DEFAULT_CONSENSUS, ...o.consensus } }
  const chain = await createChain(dir, input, key)
  return { chain, key, dir }
}

/** Append `n` blocks of small random-ish data signed by `key`. */
export async function extendChain (chain: Chain, key: SigningKey, n: number, rows = 5): Promise<void> {
  const work = tmpDir()
  for (let i = 0; i < n; i++) {
    const src = makeSqlite(join(work, `b${i}.db`), rows, chain.tip().height + 1)
    await signImport(chain, src, key)
  }
}

/**
 * Two data directories of one chain signed by `key`, `common` blocks long, each open: `a` (a new
 * test chain's) and `b`, its copy, for branches that fork above `common`.
 */
export async function forkedPair (key: SigningKey, common: number, consensus?: Partial<GenesisParams>): Promise<{ a: Chain, b: Chain, dir: string }> {
  const { chain, dir } = await newTestChain({ key, consensus })
  await extendChain(chain, key, common, 2)
  chain.close()
  const other = join(tmpDir(), 'b')
  cpSync(dir, other, { recursive: true })
  return { a: Chain.open(dir), b: Chain.open(other), dir }
}

/** Every canonical file hashes to its index row and carries its seal; every side block's file too. */
export async function filesMatchIndex (c: Chain): Promise<string[]> {
  const { sha256File } = await import('../../src/crypto/index.js')
  const { readSeal } = await import('../../src/storage/index.js')
  const problems: string[] = []
  for (let h = 0; h <= c.tip().height; h++) {
    const rec = c.get(h)
    if (rec === undefined) { problems.push(`no index row at ${h}`); continue }
    const got = await sha256File(c.dir.blockPath(h)).catch(() => 'missing')
    if (got !== rec.hash) problems.push(`file at height ${h} is ${got}, index says ${rec.hash}`)
    if (readSeal(c.dir.blockPath(h)) !== rec.seal) problems.push(`seal at height ${h} differs`)
  }
  for (const s of c.index.sideBlocks()) {
    const got = await sha256File(c.dir.forkPath(s.hash)).catch(() => 'missing')
    if (got !== s.hash) problems.push(`side block ${s.hash} file is ${got}`)
  }
  return problems
}

/** Seal a block by `by` that adds (op 'A') or revokes ('R') `target` (quorum 1: a small chain). */
export async function keyOpBlock (chain: Chain, by: SigningKey, op: 'A' | 'R', target: SigningKey): Promise<ImportResult> {
  const { createEndorsement, parseEndorsement } = await import('../../src/chain/index.js')
  const keyOps = [parseEndorsement(JSON.stringify(createEndorsement(by, chain.chainId, op, target.publicKey)), chain.chainId)]
  return await signImport(chain, undefined, by, { keyOps })
}

/**
 * Put a block file into the chain without validating it, as an older Petal with a weaker rule
 * would have accepted it: file and seal in their slot, its index row. For tests of what happens
 * to blocks the current rules refuse (verify, reindex, the query mirror).
 */
export async function plantBlock (chain: Chain, file: string, seal: string, header: BlockHeader): Promise<BlockRecord> {
  const { copyFileSync, statSync } = await import('node:fs')
  const { sha256File } = await import('../../src/crypto/index.js')
  const { placeBlock, tmpBlockPath } = await import('../../src/storage/index.js')
  const hash = await sha256File(file)
  const rec: BlockRecord = {
    hash, height: header.height, parent: header.previousHash, canonical: true, version: 2, signer: header.creator, timestamp: header.timestamp,
    rowsRoot: header.rowsRoot, prevSig: header.previousHashSignature, seal, size: statSync(file).size, keyOpCount: 0, receivedAt: Date.now()
  }
  await chain.index.withWriteLock(async () => {
    const tmp = tmpBlockPath(chain.dir)
    copyFileSync(file, tmp)
    placeBlock(tmp, chain.dir.blockPath(header.height), seal)
    chain.index.insertBlock(rec, [], [])
  })
  return rec
}

/** Plain verify of a copy of the data directory `root` after `damage` has been done to the copy: its failure, if any. */
export async function verifyDamagedCopy (root: string, damage: (dir: string) => void, workers = 2): Promise<VerifyReport['failure']> {
  const dir = join(tmpDir(), 'copy')
  cpSync(root, dir, { recursive: true })
  damage(dir)
  const chain = Chain.open(dir)
  try {
    return (await verifyChain(chain, { workers })).failure
  } finally {
    chain.close()
  }
}
