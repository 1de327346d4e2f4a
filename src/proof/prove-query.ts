import { openBlockReadonly, quoteIdent, readBlockFile, type SqlValue, type UserTable } from '../block/index.js'
import type { Chain } from '../chain/index.js'
import type { SqliteDb } from '../storage/index.js'
import { equalBytes, shellWord } from '../util/index.js'
import { buildProofBundle } from './build.js'
import { chunkCache } from './chunk-cache.js'
import type { ChunkPool } from './table-chunks.js'
import { ProofError } from './errors.js'
import { checkpointForHeight } from './prove-rows.js'
import { storedChainTree } from './stored.js'
import { encodeRow, toProofValue, type BundleDocument } from './verifier/index.js'
import type { NoCheckpointHint } from './no-checkpoint.js'

// `petal query --prove`: the rows a statement returns, when they are whole rows of one table,
// proven one by one against one checkpoint. What is proven: each row is in the chain. What is not:
// that the statement returned every row it should have (docs/proofs.md).

/** Most rows one answer is proven for (a bundle holds a path per row). */
export const MAX_PROVEN_ROWS = 100_000

function notProvable (why: string): ProofError {
  return new ProofError('PROOF_QUERY_NOT_PROVABLE', `cannot prove this answer: ${why}`, {
    hint: 'prove whole rows of one table, with their height: SELECT * FROM t WHERE … (any WHERE, ORDER BY or LIMIT)'
  })
}

interface ResultRow { height: number, values: Map<string, SqlValue> }

/**
 * Run `sql` on the query mirror (already up to date) and prove every row of its answer.
 * `mirror` is a read-only connection to query.db.
 */
export async function proveQueryAnswer (chain: Chain, mirror: SqliteDb, sql: string, o: { final?: boolean, signal?: AbortSignal, chunkPool?: ChunkPool, noCheckpointHint?: NoCheckpointHint } = {}): Promise<{ doc: BundleDocument, rows: number, table: string }> {
  let stmt
  try {
    stmt = mirror.prepare(sql)
  } catch (err) {
    throw notProvable(err instanceof Error ? err.message : String(err))
  }
  if (!stmt.reader || !stmt.readonly) throw notProvable('it is not a read-only SELECT')
  const cols = stmt.columns()
  const table = cols[0]?.table ?? null
  if (table === null || cols.some(c => c.table !== table || c.column === null || c.database !== 'main')) {
    throw notProvable('each column of the answer must be a column of one table, unchanged (no expressions, joins or aggregates)')
  }
  if (table.startsWith('_')) throw notProvable(`${table} is the mirror's own table, not a table of the blocks`)
  const names = cols.map(c => c.column as string)
  if (!names.includes('_height')) throw notProvable('the answer must include _height (SELECT * includes it)')
  const rows: ResultRow[] = []
  for (const r of stmt.raw(true).safeIntegers(true).iterate() as Iterable<SqlValue[]>) {
    if (rows.length >= MAX_PROVEN_ROWS) throw notProvable(`more than ${MAX_PROVEN_ROWS} rows: prove fewer at a time (add a LIMIT or narrow the WHERE)`)
    const values = new Map(names.map((n, i) => [n, r[i] ?? null]))
    rows.push({ height: Number(values.get('_height')), values })
  }
  if (rows.length === 0) {
    // Whole rows of one table, but none: "prove whole rows" (notProvable's hint) does not fit.
    throw new ProofError('PROOF_QUERY_NOT_PROVABLE', 'cannot prove this answer: it has no rows, so there is nothing to prove', {
      hint: `the statement matched no row of ${table}: see the rows there are with \`petal query ${shellWord(`SELECT * FROM ${quoteIdent(table)} LIMIT 5`)}\`, then give --prove a WHERE that selects some`
    })
  }
  const byHeight = new Map<number, ResultRow[]>()
  for (const r of rows) byHeight.set(r.height, [...byHeight.get(r.height) ?? [], r])
  const blocks = []
  for (const [height, inBlock] of byHeight) {
    const b = chain.get(height)
    if (b === undefined) throw notProvable(`the mirror has rows at height ${height}, which is not on the chain: run the query again (the mirror catches up)`)
    const path = chain.pathOf(b)
    const file = await readBlockFile(path, { maxBytes: chain.params.maxBlockBytes, quickCheck: false, checkManifest: false, signal: o.signal })
    const t = file.userTables.find(x => x.name.toLowerCase() === table.toLowerCase())
    if (t === undefined) throw notProvable(`block ${height} has no table ${table}`)
    const missing = t.columns.filter(c => !names.some(n => n.toLowerCase() === c.toLowerCase()))
    if (missing.length > 0) throw notProvable(`column ${missing.join(', ')} of ${t.name} is not in the answer: a proof is of whole rows`)
    blocks.push({ path, hash: b.hash, rows: locateRows(path, t, inBlock) })
  }
  const top = Math.max(...byHeight.keys())
  const checkpoint = checkpointForHeight(chain, top, o.final, o.noCheckpointHint)
  const doc = await buildProofBundle(blocks, {
    chainId: chain.chainId, tree: storedChainTree(chain), checkpoint: checkpoint.note, maxBlockBytes: chain.params.maxBlockBytes, signal: o.signal,
    chunks: chunkCache(chain.dir.proofCache, chain.logger), chunkPool: o.chunkPool
  })
  return { doc, rows: rows.length, table }
}

/**
 * The rowid of each answer row in its block: a row of the block with exactly these typed values
 * (an INTEGER PRIMARY KEY makes the lookup an index search), a different one for each duplicate.
 */
function locateRows (path: string, t: UserTable, rows: ResultRow[]): Array<{ table: string, rowid?: bigint, index?: number }> {
  const db = openBlockReadonly(path)
  try {
    const pick = (v: Map<string, SqlValue>): SqlValue[] => t.columns.map(c => [...v].find(([k]) => k.toLowerCase() === c.toLowerCase())?.[1] ?? null)
    const where = t.columns.map(c => `${quoteIdent(c)} IS ?`).join(' AND ')
    const cols = t.columns.map(quoteIdent).join(', ')
    if (t.withoutRowid) {
      // Position in primary-key order: rows before it in that order.
      const order = t.primaryKey.map(quoteIdent)
      const find = db.prepare(`SELECT ${cols} FROM ${quoteIdent(t.name)} WHERE ${where}`).raw(true).safeIntegers(true)
      const before = db.prepare(`SELECT count(*) FROM ${quoteIdent(t.name)} WHERE (${order.join(', ')}) < (${order.map(() => '?').join(', ')})`).pluck().safeIntegers(true)
      return rows.map(r => {
        const values = pick(r.values)
        const found = find.get(...values) as SqlValue[] | undefined
        if (found === undefined || !sameRow(found, values)) throw notProvable(`a row of ${t.name} at height ${r.height} is not in its block as the mirror shows it`)
        const key = t.primaryKey.map(k => found[t.columns.indexOf(k)] ?? null)
        return { table: t.name, index: Number(before.get(...key) as bigint) }
      })
    }
    const alias = t.rowidAlias
    const find = db.prepare(`SELECT ${alias}, ${cols} FROM ${quoteIdent(t.name)} WHERE ${where} ORDER BY ${alias}`).raw(true).safeIntegers(true)
    const used = new Set<bigint>()
    return rows.map(r => {
      const values = pick(r.values)
      for (const cand of find.iterate(...values) as Iterable<SqlValue[]>) {
        const rowid = cand[0] as bigint
        if (!used.has(rowid) && sameRow(cand.slice(1), values)) {
          used.add(rowid)
          return { table: t.name, rowid }
        }
      }
      throw notProvable(`a row of ${t.name} at height ${r.height} is not in its block as the mirror shows it`)
    })
  } finally {
    db.close()
  }
}

/** Exactly equal, storage class included (SQLite's IS finds 1 = 1.0). */
function sameRow (a: SqlValue[], b: SqlValue[]): boolean {
  return equalBytes(encodeRow(a.map(toProofValue)), encodeRow(b.map(toProofValue)))
}
