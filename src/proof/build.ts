import { canonicalRowsSql, compareNames, guardSqlite, hashRows, openBlockReadonly, quoteIdent, readBlockFile, type BlockFile, type Db, type SqlValue, type TableEntry, type UserTable } from '../block/index.js'
import { leafHash, sha256File } from '../crypto/index.js'
import { equalBytes, quote, quoteEach, said, throwIfAborted, toHex } from '../util/index.js'
import { chainLeafHash } from './chain-tree.js'
import { readCheckpointNote } from './checkpoint.js'
import { ProofError } from './errors.js'
import { consistencyProof, inclusionProof, MemoryNodeStore, PathCollector, treeRoot, type NodeReader } from './tree/index.js'
import { chunkedReader, chunkOf, chunkRange, CHUNK_ROWS, computeTableChunks, type ChunkPool, type TableChunks } from './table-chunks.js'
import {
  encodeRow, PROOF_VERSION, tableEntryValues, toProofValue,
  type BlockPart, type BundleDocument, type ConsistencyDocument, type ConsistencyPart, type PetalCheckpoint, type RowPart, type RowProofDocument, type TablePart
} from './verifier/index.js'

/** A row to prove: by rowid (rowid tables) or by position in the table's canonical order. */
export interface RowLocator {
  table: string
  rowid?: bigint
  index?: number
}

export interface BlockRows {
  /** the block file (canonical, the one the chain tree was built from) */
  path: string
  /** its hash, when already known (a data directory's index): saves hashing the whole file */
  hash?: string
  rows: RowLocator[]
}

/** Where chunk roots of large tables are kept between proofs (see table-chunks.ts). */
export interface ChunkCache {
  get: (block: string, table: string) => TableChunks | undefined
  put: (block: string, table: string, chunks: TableChunks) => void
}

export interface BuildProofOptions {
  chainId: string
  /** the chain tree; it must hold at least the checkpoint's size (and every `consistencyWith` size) */
  tree: NodeReader
  /** the signed checkpoint note the proof is made against */
  checkpoint: string
  /** also prove consistency with checkpoints of these sizes (a verifier that trusts one of them) */
  consistencyWith?: number[]
  /** the chain's max_block_bytes (default: no limit) */
  maxBlockBytes?: number
  /** chunk roots of large tables, so that a proof hashes one chunk, not the table */
  chunks?: ChunkCache
  /** the thread that computes chunk roots the cache lacks (default: this thread) */
  chunkPool?: ChunkPool
  signal?: AbortSignal
}

const hex = (b: Uint8Array): string => toHex(b)
const paths = (p: Uint8Array[]): string[] => p.map(hex)

/**
 * Build a proof bundle: many rows, from one or more blocks, against one checkpoint. Everything is
 * checked on the way (the block is the tree's leaf, the checkpoint is the tree's head, every row
 * hashes to the leaf it is proven as), so a proof that is built is a proof that verifies.
 */
export async function buildProofBundle (blocks: readonly BlockRows[], o: BuildProofOptions): Promise<BundleDocument> {
  const { checkpoint } = readCheckpointNote(o.checkpoint)
  checkCheckpoint(checkpoint, o.chainId, o.tree)
  const out: BundleDocument = { petal_proof: PROOF_VERSION, type: 'bundle', chain_id: o.chainId, checkpoint: o.checkpoint, blocks: [] }
  const consistency = consistencyParts(checkpoint, o)
  if (consistency.length > 0) out.consistency = consistency
  for (const b of blocks) {
    throwIfAborted(o.signal)
    out.blocks.push(await proveBlock(b, checkpoint, o))
  }
  return out
}

/** Build the proof of one row (the flat `row` document). */
export async function buildRowProof (block: string, row: RowLocator, o: BuildProofOptions): Promise<RowProofDocument> {
  const bundle = await buildProofBundle([{ path: block, rows: [row] }], o)
  const b = bundle.blocks[0] as BundleDocument['blocks'][number]
  const { tables, ...blockPart } = b
  const { rows, ...tablePart } = tables[0] as (typeof tables)[number]
  const doc: RowProofDocument = { petal_proof: PROOF_VERSION, type: 'row', chain_id: o.chainId, block: blockPart, table: tablePart, row: rows[0] as RowPart, checkpoint: o.checkpoint }
  if (bundle.consistency !== undefined) doc.consistency = bundle.consistency
  return doc
}

function checkCheckpoint (c: PetalCheckpoint, chainId: string, tree: NodeReader): void {
  if (c.chainId !== chainId) throw new ProofError('PROOF_CHECKPOINT_MISMATCH', `the checkpoint is for chain ${c.chainId}, not ${chainId}`)
  if (!equalBytes(treeRoot(tree, c.size), c.root)) {
    throw new ProofError('PROOF_CHECKPOINT_MISMATCH', `the checkpoint's root is not the head of this chain tree at size ${c.size}: it was made on another branch`)
  }
}

function consistencyParts (c: PetalCheckpoint, o: BuildProofOptions): ConsistencyPart[] {
  return [...new Set(o.consistencyWith ?? [])].filter(m => m !== c.size).map(m => ({
    size: m,
    path: paths(consistencyProof(o.tree, Math.min(m, c.size), Math.max(m, c.size)))
  }))
}

/** computeTableChunks on this thread (a caller without a ChunkPool). */
function chunksHere (path: string, table: UserTable, signal?: AbortSignal): TableChunks {
  const db = openBlockReadonly(path)
  try {
    return computeTableChunks(db, table, signal)
  } finally {
    db.close()
  }
}

async function proveBlock (b: BlockRows, c: PetalCheckpoint, o: BuildProofOptions): Promise<BundleDocument['blocks'][number]> {
  const file = await readBlockFile(b.path, { maxBytes: o.maxBlockBytes ?? Number.MAX_SAFE_INTEGER, quickCheck: false, checkManifest: false, signal: o.signal })
  const h = file.header
  if (h.version !== 2) throw new ProofError('PROOF_TREE_MISMATCH', `${b.path} is a version ${h.version} block: only v2 blocks have a RowsRoot to prove rows against`)
  if (h.height >= c.size) throw new ProofError('PROOF_CHECKPOINT_MISMATCH', `the block at height ${h.height} is not covered by the checkpoint (heights 0…${c.size - 1})`, { hint: 'make the proof against a later checkpoint' })
  const hash = b.hash ?? await sha256File(b.path, { signal: o.signal })
  const leaf = chainLeafHash({ height: h.height, hash, rowsRoot: h.rowsRoot, creator: h.creator })
  if (!equalBytes(o.tree.readNodes([{ level: 0, index: h.height }])[0] as Uint8Array, leaf)) {
    throw new ProofError('PROOF_TREE_MISMATCH', `${b.path} (${hash}) is not leaf ${h.height} of the chain tree: it is not the canonical block at that height`)
  }
  const part: BlockPart = { height: h.height, hash, rows_root: h.rowsRoot, creator: h.creator, path: paths(inclusionProof(o.tree, h.height, c.size)) }
  const byTable = new Map<string, RowLocator[]>()
  for (const r of b.rows) byTable.set(r.table, [...byTable.get(r.table) ?? [], r])
  const tables = proveTables(file, [...byTable.keys()])
  // Chunk roots a fast proof will need and the cache lacks: hashed in the pool's thread.
  for (const [name, locators] of byTable) {
    const t = tables.get(name)
    if (t !== undefined && o.chunks !== undefined && wantsChunks(t.userTable, t.entry, locators) && o.chunks.get(hash, name)?.rows !== t.entry.rows) {
      const c = o.chunkPool === undefined ? chunksHere(b.path, t.userTable, o.signal) : await o.chunkPool.compute(b.path, t.userTable)
      if (c !== undefined && c.rows === t.entry.rows) o.chunks.put(hash, name, c)
    }
  }
  const db = openBlockReadonly(b.path)
  try {
    const out = []
    for (const [name, locators] of byTable) {
      const t = tables.get(name) as TablePart & { userTable: UserTable, entry: TableEntry }
      const { userTable, entry, ...tablePart } = t
      out.push({ ...tablePart, rows: guardSqlite(b.path, () => proveRows(db, userTable, entry, locators, { signal: o.signal, cache: o.chunks, block: hash })) })
    }
    return { ...part, tables: out }
  } finally {
    db.close()
  }
}

/** The `_tables` paths of the named tables to the block's RowsRoot. */
function proveTables (file: BlockFile, names: string[]): Map<string, TablePart & { userTable: UserTable, entry: TableEntry }> {
  const entries = [...file.tables].sort((a, b) => compareNames(a.name, b.name))
  const tree = new MemoryNodeStore()
  for (const e of entries) tree.append(leafHash(encodeRow(tableEntryValues(e))))
  if (hex(treeRoot(tree, entries.length)) !== file.header.rowsRoot) {
    throw new ProofError('PROOF_TREE_MISMATCH', `${file.path}: _tables does not hash to the block's RowsRoot`)
  }
  const out = new Map<string, TablePart & { userTable: UserTable, entry: TableEntry }>()
  for (const name of names) {
    const index = entries.findIndex(e => e.name === name)
    const entry = entries[index]
    const userTable = file.userTables.find(t => t.name === name)
    if (entry === undefined || userTable === undefined) {
      throw new ProofError('PROOF_TABLE_NOT_FOUND', said`the block at height ${file.header.height} has no table ${quote(JSON.stringify(name))}`, { hint: entries.length === 0 ? 'this block holds no user tables' : said`its tables: ${quoteEach(entries.map(e => e.name))}` })
    }
    out.set(name, {
      name, sql: entry.sql, row_count: entry.rows, root: entry.root, index, table_count: entries.length,
      path: paths(inclusionProof(tree, index, entries.length)), columns: userTable.columns, userTable, entry
    })
  }
  return out
}

interface FoundRow { index: number, rowid: bigint | null, values: SqlValue[] }

interface RowsContext { signal?: AbortSignal, cache?: ChunkCache, block: string }

/**
 * Rows of a large rowid table by rowid: from its chunk roots (cached, or computed in one pass and
 * cached), hashing only each row's own chunk. Undefined when the fast way does not apply.
 */
function wantsChunks (t: UserTable, entry: TableEntry, locators: readonly RowLocator[]): boolean {
  return !t.withoutRowid && entry.rows >= 2 * CHUNK_ROWS && locators.every(l => l.rowid !== undefined)
}

function proveRowsFast (db: Db, t: UserTable, entry: TableEntry, locators: RowLocator[], o: RowsContext): RowPart[] | undefined {
  if (!wantsChunks(t, entry, locators)) return undefined
  let chunks = o.cache?.get(o.block, t.name)
  if (chunks === undefined || chunks.rows !== entry.rows) {
    chunks = computeTableChunks(db, t, o.signal)
    if (chunks.rows !== entry.rows) return undefined
    o.cache?.put(o.block, t.name, chunks)
  }
  const alias = t.rowidAlias as string
  const name = quoteIdent(t.name)
  const cols = t.columns.map(quoteIdent).join(', ')
  const out: RowPart[] = []
  const seen = new Set<bigint>()
  for (const l of locators) {
    const rowid = l.rowid as bigint
    if (seen.has(rowid)) continue
    seen.add(rowid)
    const values = db.prepare(`SELECT ${cols} FROM ${name} WHERE ${alias} = ?`).raw(true).safeIntegers(true).get(rowid) as SqlValue[] | undefined
    if (values === undefined) throw new ProofError('PROOF_ROW_NOT_FOUND', said`table ${quote(JSON.stringify(t.name))} has no row with rowid ${rowid}`, { hint: rowidRangeHint(db, t), details: { table: t.name }, quoted: { details: ['table'] } })
    const k = chunkOf(chunks, rowid)
    const range = chunkRange(chunks, k)
    const leaves: Uint8Array[] = []
    hashRows(db, t, { push: leaf => { leaves.push(leaf) } }, range, o.signal)
    const j = Number(db.prepare(`SELECT count(*) FROM ${name} WHERE ${alias} < ?${range.after === undefined ? '' : ` AND ${alias} > ${range.after}`}`).pluck().safeIntegers(true).get(rowid) as bigint)
    const reader = chunkedReader(chunks, k, leaves)
    // A stale or damaged cache must never give a proof: the table root decides.
    if (hex(treeRoot(reader, entry.rows)) !== entry.root) return undefined
    const index = k * CHUNK_ROWS + j
    const proofValues = values.map(toProofValue)
    if (!equalBytes(leafHash(encodeRow(proofValues)), leaves[j] ?? new Uint8Array(0))) {
      throw new ProofError('PROOF_TREE_MISMATCH', `row ${index} of ${JSON.stringify(t.name)}: the proof encoding disagrees with the block encoding`, { hint: 'this is a bug in Petal; please report it' })
    }
    out.push({ rowid: rowid.toString(), index, values: proofValues, path: paths(inclusionProof(reader, index, entry.rows)) })
  }
  return out.sort((a, b) => a.index - b.index)
}

/** Locate each requested row, then hash the table once, collecting every row's path. */
function proveRows (db: Db, t: UserTable, entry: TableEntry, locators: RowLocator[], o: RowsContext): RowPart[] {
  const fast = proveRowsFast(db, t, entry, locators, o)
  if (fast !== undefined) return fast
  const signal = o.signal
  const found = new Map<number, FoundRow>()
  for (const l of locators) {
    const r = locate(db, t, entry, l)
    found.set(r.index, r)
  }
  const rows = [...found.values()].sort((a, b) => a.index - b.index)
  const collector = new PathCollector(entry.rows, rows.map(r => r.index))
  hashRows(db, t, collector, {}, signal)
  const result = collector.finish()
  if (result === undefined || hex(result.root) !== entry.root) {
    throw new ProofError('PROOF_TREE_MISMATCH', `the rows of ${JSON.stringify(t.name)} do not hash to the root recorded in _tables`, { hint: 'the block file is damaged: `petal verify --deep` names it' })
  }
  return rows.map((r, k) => {
    const values = r.values.map(toProofValue)
    // The verifier's encoder must agree with the block's, row by row.
    if (!equalBytes(leafHash(encodeRow(values)), result.leaves[k] as Uint8Array)) {
      throw new ProofError('PROOF_TREE_MISMATCH', `row ${r.index} of ${JSON.stringify(t.name)}: the proof encoding disagrees with the block encoding`, { hint: 'this is a bug in Petal; please report it' })
    }
    return { rowid: r.rowid === null ? null : r.rowid.toString(), index: r.index, values, path: paths(result.paths[k] as Uint8Array[]) }
  })
}

/** A true hint for a rowid that is not there: the range the table's rowids do span. */
function rowidRangeHint (db: Db, t: UserTable): string {
  const alias = t.rowidAlias as string
  const [lo, hi, n] = db.prepare(`SELECT min(${alias}), max(${alias}), count(*) FROM ${quoteIdent(t.name)}`).raw(true).safeIntegers(true).get() as [bigint | null, bigint | null, bigint]
  if (lo === null || hi === null) return 'the table has no rows in this block'
  return `its ${n} row(s) have rowids from ${lo} to ${hi} (not necessarily contiguous)`
}

function locate (db: Db, t: UserTable, entry: TableEntry, l: RowLocator): FoundRow {
  const cols = t.columns.map(quoteIdent).join(', ')
  const name = quoteIdent(t.name)
  const notFound = (what: string, hint?: string): ProofError => new ProofError('PROOF_ROW_NOT_FOUND', said`table ${quote(JSON.stringify(t.name))} has no ${what}`, { hint, details: { table: t.name }, quoted: { details: ['table'] } })
  if (l.rowid !== undefined) {
    if (t.withoutRowid) throw notFound('rowid: it is a WITHOUT ROWID table', 'name the row by its position in primary-key order instead')
    const alias = t.rowidAlias as string
    const values = db.prepare(`SELECT ${cols} FROM ${name} WHERE ${alias} = ?`).raw(true).safeIntegers(true).get(l.rowid) as SqlValue[] | undefined
    if (values === undefined) throw notFound(`row with rowid ${l.rowid}`, rowidRangeHint(db, t))
    const before = db.prepare(`SELECT count(*) FROM ${name} WHERE ${alias} < ?`).pluck().safeIntegers(true).get(l.rowid) as bigint
    return { index: Number(before), rowid: l.rowid, values }
  }
  const index = l.index ?? -1
  if (!Number.isSafeInteger(index) || index < 0 || index >= entry.rows) throw notFound(`row at position ${index} (it has ${entry.rows} rows)`)
  if (t.withoutRowid) {
    const values = db.prepare(`${canonicalRowsSql(t)} LIMIT 1 OFFSET ?`).raw(true).safeIntegers(true).get(index) as SqlValue[]
    return { index, rowid: null, values }
  }
  const alias = t.rowidAlias as string
  const row = db.prepare(`SELECT ${alias}, ${cols} FROM ${name} ORDER BY ${alias} LIMIT 1 OFFSET ?`).raw(true).safeIntegers(true).get(index) as SqlValue[]
  return { index, rowid: row[0] as bigint, values: row.slice(1) }
}

/** A consistency proof between two checkpoints of one chain tree: the chain only grew from one to the other. */
export function buildConsistencyProof (o: { chainId: string, tree: NodeReader, from: string, to: string }): ConsistencyDocument {
  const from = readCheckpointNote(o.from).checkpoint
  const to = readCheckpointNote(o.to).checkpoint
  for (const c of [from, to]) checkCheckpoint(c, o.chainId, o.tree)
  if (from.size > to.size) throw new ProofError('PROOF_CHECKPOINT_MISMATCH', `the first checkpoint (size ${from.size}) is larger than the second (size ${to.size})`, { hint: 'give the older checkpoint first' })
  return { petal_proof: PROOF_VERSION, type: 'consistency', chain_id: o.chainId, from: o.from, to: o.to, path: paths(consistencyProof(o.tree, from.size, to.size)) }
}
