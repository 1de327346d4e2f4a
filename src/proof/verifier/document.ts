// The proof documents (docs/proofs.md "Proof documents"): JSON, versioned, parsed strictly. An
// unknown field is an error, so that nothing in a document can look proven without being checked.
import { fromHex, hashFromHex } from './bytes.js'
import { parseProofValue, type ProofValue } from './values.js'

export const PROOF_VERSION = 1
/** RFC 6962 paths are at most 64 hashes (trees of up to 2^64 leaves). */
const MAX_PATH = 64

// ---- The JSON shapes, as written -------------------------------------------------------------

export interface BlockPart {
  height: number
  hash: string
  rows_root: string
  /** creator key id */
  creator: string
  /** audit path of leaf `height` in the chain tree of the checkpoint's size */
  path: string[]
}

export interface TablePart {
  name: string
  sql: string
  row_count: number
  root: string
  /** position of the table's `_tables` row in name order, and the number of tables */
  index: number
  table_count: number
  /** audit path of the `_tables` row to RowsRoot */
  path: string[]
  /** column names in declaration order (informative: the DDL in `sql` is what is proven) */
  columns: string[]
}

export interface RowPart {
  /** where the row was found (rowid tables); proven only as a column value (INTEGER PRIMARY KEY) */
  rowid: string | null
  /** position in the table's canonical order: the leaf index in the table tree */
  index: number
  values: ProofValue[]
  /** audit path of the row to the table root */
  path: string[]
}

export interface ConsistencyPart {
  /** the other tree size; the path proves consistency between the smaller and the larger tree */
  size: number
  path: string[]
}

export interface RowProofDocument {
  petal_proof: 1
  type: 'row'
  chain_id: string
  block: BlockPart
  table: TablePart
  row: RowPart
  /** the C2SP signed note */
  checkpoint: string
  consistency?: ConsistencyPart[]
}

export interface BundleDocument {
  petal_proof: 1
  type: 'bundle'
  chain_id: string
  checkpoint: string
  blocks: Array<BlockPart & { tables: Array<TablePart & { rows: RowPart[] }> }>
  consistency?: ConsistencyPart[]
}

export interface ConsistencyDocument {
  petal_proof: 1
  type: 'consistency'
  chain_id: string
  /** the older checkpoint (signed note) */
  from: string
  /** the newer checkpoint (signed note) */
  to: string
  path: string[]
}

export type ProofDocument = RowProofDocument | BundleDocument | ConsistencyDocument

// ---- Parsed form ------------------------------------------------------------------------------

export interface ParsedRow { rowid: string | null, index: number, values: ProofValue[], path: Uint8Array[] }
export interface ParsedTable { name: string, sql: string, rowCount: number, root: string, index: number, tableCount: number, path: Uint8Array[], columns: string[], rows: ParsedRow[] }
export interface ParsedBlock { height: number, hash: string, rowsRoot: string, creator: string, path: Uint8Array[], tables: ParsedTable[] }
export interface ParsedRowsProof { type: 'row' | 'bundle', chainId: string, checkpoint: string, blocks: ParsedBlock[], consistency: Array<{ size: number, path: Uint8Array[] }> }
export interface ParsedConsistencyProof { type: 'consistency', chainId: string, from: string, to: string, path: Uint8Array[] }
export type ParsedProof = ParsedRowsProof | ParsedConsistencyProof

class Malformed extends Error {}

type Obj = Record<string, unknown>

function fail (at: string, why: string): never {
  throw new Malformed(`${at}: ${why}`)
}

function object (x: unknown, at: string, required: readonly string[], optional: readonly string[] = []): Obj {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) fail(at, 'expected an object')
  const o = x as Obj
  for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) fail(at, `unknown field ${JSON.stringify(k)}`)
  for (const k of required) if (!(k in o)) fail(at, `missing field ${JSON.stringify(k)}`)
  return o
}

function array (x: unknown, at: string, max: number): unknown[] {
  if (!Array.isArray(x)) fail(at, 'expected an array')
  if (x.length > max) fail(at, `more than ${max} entries`)
  return x
}

function str (x: unknown, at: string): string {
  if (typeof x !== 'string') fail(at, 'expected a string')
  return x
}

function count (x: unknown, at: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) fail(at, 'expected a non-negative integer')
  return x
}

function hash (x: unknown, at: string): string {
  if (hashFromHex(x) === undefined) fail(at, 'expected 64 lower-case hex digits')
  return x as string
}

function path (x: unknown, at: string): Uint8Array[] {
  return array(x, at, MAX_PATH).map((h, i) => hashFromHex(h) ?? fail(`${at}[${i}]`, 'expected 64 lower-case hex digits'))
}

function keyId (x: unknown, at: string): string {
  const s = str(x, at)
  if (!s.startsWith('1:') || hashFromHex(s.slice(2)) === undefined) fail(at, 'expected a key id "1:" + 64 hex digits')
  return s
}

const BLOCK_FIELDS = ['height', 'hash', 'rows_root', 'creator', 'path'] as const
const TABLE_FIELDS = ['name', 'sql', 'row_count', 'root', 'index', 'table_count', 'path', 'columns'] as const
const ROW_FIELDS = ['rowid', 'index', 'values', 'path'] as const

function block (o: Obj, at: string): Omit<ParsedBlock, 'tables'> {
  return { height: count(o.height, `${at}.height`), hash: hash(o.hash, `${at}.hash`), rowsRoot: hash(o.rows_root, `${at}.rows_root`), creator: keyId(o.creator, `${at}.creator`), path: path(o.path, `${at}.path`) }
}

function table (o: Obj, at: string): Omit<ParsedTable, 'rows'> {
  const t = {
    name: str(o.name, `${at}.name`),
    sql: str(o.sql, `${at}.sql`),
    rowCount: count(o.row_count, `${at}.row_count`),
    root: hash(o.root, `${at}.root`),
    index: count(o.index, `${at}.index`),
    tableCount: count(o.table_count, `${at}.table_count`),
    path: path(o.path, `${at}.path`),
    columns: array(o.columns, `${at}.columns`, 32767).map((c, i) => str(c, `${at}.columns[${i}]`))
  }
  return t
}

function row (x: unknown, at: string, columns: number): ParsedRow {
  const o = object(x, at, ROW_FIELDS)
  const rowid = o.rowid === null ? null : str(o.rowid, `${at}.rowid`)
  if (rowid !== null && !/^(0|-?[1-9][0-9]{0,18})$/.test(rowid)) fail(`${at}.rowid`, 'expected null or a canonical decimal')
  const values = array(o.values, `${at}.values`, 32767).map((v, i) => {
    const p = parseProofValue(v)
    return 'error' in p ? fail(`${at}.values[${i}]`, p.error) : p.value
  })
  if (values.length !== columns) fail(`${at}.values`, `${values.length} values for ${columns} columns`)
  return { rowid, index: count(o.index, `${at}.index`), values, path: path(o.path, `${at}.path`) }
}

function consistency (x: unknown): Array<{ size: number, path: Uint8Array[] }> {
  if (x === undefined) return []
  return array(x, 'consistency', 16).map((c, i) => {
    const o = object(c, `consistency[${i}]`, ['size', 'path'])
    return { size: count(o.size, `consistency[${i}].size`), path: path(o.path, `consistency[${i}].path`) }
  })
}

function unique<T> (items: T[], key: (t: T) => string, at: string, what: string): void {
  const seen = new Set<string>()
  for (const it of items) {
    const k = key(it)
    if (seen.has(k)) fail(at, `${what} ${k} appears twice`)
    seen.add(k)
  }
}

/** Parse a proof document (JSON text or an already parsed value). */
export function parseProofDocument (input: unknown): { proof: ParsedProof } | { error: string } {
  try {
    let x = input
    if (typeof input === 'string') {
      try {
        x = JSON.parse(input)
      } catch (err) {
        return { error: `not JSON: ${(err as Error).message}` }
      }
    }
    const head = typeof x === 'object' && x !== null ? x as Obj : fail('document', 'expected a JSON object')
    if (head.petal_proof !== PROOF_VERSION) fail('petal_proof', `expected version ${PROOF_VERSION} (this verifier reads version ${PROOF_VERSION} only)`)
    const chainAt = 'chain_id'
    if (head.type === 'row') {
      const o = object(x, 'document', ['petal_proof', 'type', 'chain_id', 'block', 'table', 'row', 'checkpoint'], ['consistency'])
      const t = table(object(o.table, 'table', TABLE_FIELDS), 'table')
      const b = block(object(o.block, 'block', BLOCK_FIELDS), 'block')
      const r = row(o.row, 'row', t.columns.length)
      return { proof: { type: 'row', chainId: hash(o.chain_id, chainAt), checkpoint: str(o.checkpoint, 'checkpoint'), blocks: [{ ...b, tables: [{ ...t, rows: [r] }] }], consistency: consistency(o.consistency) } }
    }
    if (head.type === 'bundle') {
      const o = object(x, 'document', ['petal_proof', 'type', 'chain_id', 'checkpoint', 'blocks'], ['consistency'])
      const blocks = array(o.blocks, 'blocks', 1_000_000).map((bx, bi) => {
        const at = `blocks[${bi}]`
        const bo = object(bx, at, [...BLOCK_FIELDS, 'tables'])
        const tables = array(bo.tables, `${at}.tables`, 1000).map((tx, ti) => {
          const tat = `${at}.tables[${ti}]`
          const to = object(tx, tat, [...TABLE_FIELDS, 'rows'])
          const t = table(to, tat)
          const rows = array(to.rows, `${tat}.rows`, 10_000_000).map((rx, ri) => row(rx, `${tat}.rows[${ri}]`, t.columns.length))
          if (rows.length === 0) fail(`${tat}.rows`, 'a table in a bundle proves at least one row')
          unique(rows, r => String(r.index), `${tat}.rows`, 'row index')
          return { ...t, rows }
        })
        if (tables.length === 0) fail(`${at}.tables`, 'a block in a bundle proves at least one table')
        unique(tables, t => JSON.stringify(t.name), `${at}.tables`, 'table')
        return { ...block(bo, at), tables }
      })
      if (blocks.length === 0) fail('blocks', 'a bundle proves at least one block')
      unique(blocks, b => String(b.height), 'blocks', 'height')
      return { proof: { type: 'bundle', chainId: hash(o.chain_id, chainAt), checkpoint: str(o.checkpoint, 'checkpoint'), blocks, consistency: consistency(o.consistency) } }
    }
    if (head.type === 'consistency') {
      const o = object(x, 'document', ['petal_proof', 'type', 'chain_id', 'from', 'to', 'path'])
      return { proof: { type: 'consistency', chainId: hash(o.chain_id, chainAt), from: str(o.from, 'from'), to: str(o.to, 'to'), path: path(o.path, 'path') } }
    }
    return fail('type', 'expected "row", "bundle" or "consistency"')
  } catch (err) {
    if (err instanceof Malformed) return { error: err.message }
    throw err
  }
}

/** The hex digest as bytes (the parsed document guarantees the form). */
export function bytesOf (hex: string): Uint8Array {
  return fromHex(hex) ?? new Uint8Array(0)
}
