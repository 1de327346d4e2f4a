// The manifest's differential fuzz: a hostile block file (manifest-mutants.ts) read by every path
// a node may take — the fast page reader with either leaf encoder, from the file or from bytes
// held, split into chunks as worker threads split it, with either hasher — against the reference
// (rows read through SQLite), and the whole structural validation of the block re-sealed with
// roots of the reference, with and without the bytes held, against the page readers of reserved
// tables. Used by test/unit/block/manifest-fuzz.test.ts (seeded, bounded) and
// scripts/manifest-fuzz.ts (long runs).
import Database from 'better-sqlite3'
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CHUNK_ROWS, computeManifest, inspectSchema, openBlockReadonly, readBlockFile, readBlockLean, readBlockPages, tableRoot, tableRootParallel, type BlockFile, type TableRootPool, type UserTable } from '../../src/block/index.js'
import { BtreeUnsupported } from '../../src/block/btree.js'
import { fastChunkNodes, fastTableLeaves, fastTableRoot, planFastTable, type FastPlan } from '../../src/block/fast-rows.js'
import { nativeRows } from '../../src/block/native-rows.js'
import { rowChunks } from '../../src/block/row-chunks.js'
import { MerkleBuilder } from '../../src/crypto/index.js'
import { isPetalError, toHex } from '../../src/util/index.js'
import { changeCellCount, MAX_BYTES, mutateBytes, mutateReserved, mutateSchema, pick, type Rng, type SeedBlock } from './manifest-mutants.js'
import { lengthenVarints, movePastEnd } from './manifest-varints.js'
import { rng } from './random-tables.js'

export interface FuzzCounts {
  mutants: number
  /** SQLite opened the file and quick_check said ok. */
  quickOk: number
  /** Tables of quick_check-ok files compared (reference and fast path). */
  tables: number
  /** Of those, tables the fast path answered (not declined). */
  fastAnswered: number
  /** Tables the native row walker read (its answer then checked against the JavaScript walker's). */
  nativeAnswered: number
  /** Re-sealed blocks validated on every path. */
  validated: number
  /** Of those, accepted. */
  accepted: number
  /** Tables of quick_check-ok files with 65,536 rows or more compared through the pool. */
  pooled: number
}
export const newCounts = (): FuzzCounts => ({ mutants: 0, quickOk: 0, tables: 0, fastAnswered: 0, nativeAnswered: 0, validated: 0, accepted: 0, pooled: 0 })

type Answer = { rows: number, root: string } | { declined: string } | { error: string }

const describeError = (err: unknown): string => isPetalError(err) ? `coded ${err.code}` : err instanceof Error ? `uncoded ${err.name}: ${err.message}` : `thrown ${String(err)}`

function fast (run: () => { rows: number, root: Uint8Array | string }): Answer {
  try {
    const r = run()
    return { rows: r.rows, root: typeof r.root === 'string' ? r.root : toHex(r.root) }
  } catch (err) {
    if (err instanceof BtreeUnsupported) return { declined: err.message }
    return { error: describeError(err) }
  }
}

/** The root of a rowid table as worker threads would hash it, in chunks of `size` rows. */
function splitRoot (path: string, plan: FastPlan, size: number): { rows: number, root: string } {
  const { pages, cells } = fastTableLeaves(path, plan)
  const tree = new MerkleBuilder()
  let rows = 0
  for (const c of rowChunks(cells, () => size)) {
    const r = fastChunkNodes(path, plan, pages.slice(c.first, c.end), c.skip, c.take, 'wasm')
    for (const n of r.nodes) tree.pushSubtree(n.hash, n.size)
    rows += r.rows
  }
  return { rows, root: toHex(tree.root()) }
}

function withHasher<T> (native: boolean, run: () => T): T {
  const was = process.env.PETAL_NATIVE_SHA256
  process.env.PETAL_NATIVE_SHA256 = native ? '1' : '0'
  try { return run() } finally { if (was === undefined) delete process.env.PETAL_NATIVE_SHA256; else process.env.PETAL_NATIVE_SHA256 = was }
}

/** Every fast reading of table `t`, by name of the path. */
function fastAnswers (path: string, bytes: Buffer, plan: FastPlan, native: boolean): Record<string, Answer> {
  const out: Record<string, Answer> = {
    js: fast(() => fastTableRoot(path, plan, undefined, 'js')),
    wasm: fast(() => fastTableRoot(path, plan, undefined, 'wasm')),
    held: fast(() => fastTableRoot(path, plan, undefined, 'auto', bytes))
  }
  if (!plan.withoutRowid) out.split = fast(() => splitRoot(path, plan, 16))
  if (native) out.wasmHasher = withHasher(false, () => fast(() => fastTableRoot(path, plan, undefined, 'wasm')))
  // The native row walker alone (its declines not followed by the JavaScript walker), when built.
  if (nativeRows() !== undefined) out.native = fast(() => fastTableRoot(path, plan, undefined, 'native', bytes))
  return out
}

/**
 * The disagreements of one file's tables: with quick_check ok, a fast answer must be the
 * reference's (or a decline); with any verdict, the fast path must not throw anything but a decline.
 * `strict`: the tables one of whose pages was moved past the header's authoritative page count
 * (movePastEnd, the count left), or had its cell count changed (changeCellCount): where SQLite
 * then refuses to read one, the fast path must decline it too, whatever quick_check says (it read
 * the page past the count until session 47, a child leaf counted empty until session 48). (Not
 * for every mutant: quick_check refuses some files whose tables the fast path reads, as SQLite
 * itself reads them.)
 */
async function compareTables (path: string, bytes: Buffer, quickOk: boolean, native: boolean, counts: FuzzCounts, pool?: TableRootPool, strict: ReadonlySet<string> = new Set()): Promise<string[]> {
  const found: string[] = []
  let db: Database.Database
  try { db = openBlockReadonly(path) } catch { return found }
  try {
    let tables: UserTable[]
    try { tables = inspectSchema(db, 2).userTables } catch { return found }
    for (const t of tables) {
      let ref: Answer
      try { ref = tableRoot(db, t) } catch (err) { ref = { error: describeError(err) } }
      let plan: FastPlan | undefined
      try { plan = planFastTable(db, t) } catch (err) {
        if (!isPetalError(err) && !(err instanceof Error && 'code' in err)) found.push(`${t.name}: planFastTable threw ${describeError(err)}`)
        continue
      }
      if (quickOk) counts.tables++
      // With a pool, its paths only (the others are the small blocks' fuzz's, and cost as much each).
      if (pool !== undefined) { found.push(...await comparePool(path, bytes, db, t, pool, ref, quickOk, counts)); continue }
      if (plan === undefined) continue
      let answered = false
      const answers = fastAnswers(path, bytes, plan, native)
      // The native walker answers only where the JavaScript walker answers, and with its answer,
      // whatever quick_check says: on a decline the JavaScript walker runs, so a file gets one verdict.
      const [nat, js] = [answers.native, answers.js]
      if (nat !== undefined && 'rows' in nat && (js === undefined || !('rows' in js) || js.rows !== nat.rows || js.root !== nat.root)) found.push(`${t.name} native: ${nat.rows} rows ${nat.root.slice(0, 12)}, the JavaScript walker ${JSON.stringify(js)}`)
      if (nat !== undefined && 'rows' in nat) counts.nativeAnswered++
      for (const [how, a] of Object.entries(answers)) {
        if ('error' in a) { found.push(`${t.name} ${how}: the fast path threw ${a.error} (quick_check ${quickOk ? 'ok' : 'not ok'})`); continue }
        if (strict.has(t.name) && 'rows' in a && 'error' in ref) found.push(`${t.name} ${how}: fast path ${a.rows} rows ${a.root.slice(0, 12)}, where SQLite refused: ${ref.error} (quick_check ${quickOk ? 'ok' : 'not ok'})`)
        if ('declined' in a || !quickOk) continue
        answered = true
        if ('error' in ref) found.push(`${t.name} ${how}: fast path ${a.rows} rows ${a.root.slice(0, 12)}, reference ${ref.error}`)
        else if ('rows' in ref && (a.rows !== ref.rows || a.root !== ref.root)) found.push(`${t.name} ${how}: fast path ${a.rows} rows ${a.root.slice(0, 12)}, reference ${ref.rows} rows ${ref.root.slice(0, 12)}`)
      }
      if (answered) counts.fastAnswered++
    }
  } finally {
    db.close()
  }
  return found
}

/**
 * The table's root as a node computes it with its pool (tableRootParallel: a table of 65,536 rows
 * or more in chunks over the pool's threads, and after a decline the reference's SQL chunks over
 * them), from the file and from bytes held: the reference's answer when quick_check passed; with
 * any verdict, nothing but SQLite's or a coded error.
 */
async function comparePool (path: string, bytes: Buffer, db: Database.Database, t: UserTable, pool: TableRootPool, ref: Answer, quickOk: boolean, counts: FuzzCounts): Promise<string[]> {
  const found: string[] = []
  for (const [how, source] of [['pool', undefined], ['pool held', bytes]] as const) {
    let a: Answer
    try { a = await tableRootParallel(path, db, t, pool, undefined, undefined, undefined, 'wasm', source) } catch (err) { a = { error: describeError(err) } }
    if ('error' in a && !/^coded |^uncoded SqliteError/.test(a.error)) found.push(`${t.name} ${how}: threw ${a.error} (quick_check ${quickOk ? 'ok' : 'not ok'})`)
    if (!quickOk) continue
    if (!('rows' in ref)) {
      if ('rows' in a) found.push(`${t.name} ${how}: ${a.rows} rows ${a.root.slice(0, 12)}, reference ${JSON.stringify(ref)}`)
      continue
    }
    if (how === 'pool' && ref.rows >= POOL_MIN_ROWS) counts.pooled++
    if (!('rows' in a) || a.rows !== ref.rows || a.root !== ref.root) found.push(`${t.name} ${how}: ${JSON.stringify(a).slice(0, 120)}, reference ${ref.rows} rows ${ref.root.slice(0, 12)}`)
  }
  return found
}
// Rows from which tableRootParallel hashes a rowid table over the pool's threads (parallel-roots.ts).
const POOL_MIN_ROWS = 4 * CHUNK_ROWS

function quickCheck (path: string): string {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true })
    try { return String(db.pragma('quick_check(1)', { simple: true })) } finally { db.close() }
  } catch (err) {
    return describeError(err)
  }
}

/**
 * `_tables` and RowsRoot rewritten with the reference roots of the file's content (SQLite's own
 * writes touch only the reserved tables' pages), as a hostile signer would seal it. False when
 * SQLite cannot read the content (the block then stays with the roots it had).
 */
function reseal (path: string): boolean {
  const db = new Database(path)
  try {
    db.pragma('foreign_keys = OFF')
    let m: ReturnType<typeof computeManifest>
    try { m = computeManifest(db, inspectSchema(db, 2).userTables) } catch { return false }
    db.transaction(() => {
      db.exec('DELETE FROM _tables')
      const ins = db.prepare('INSERT INTO _tables (name, sql, rows, root) VALUES (?, ?, ?, ?)')
      for (const t of m.tables) ins.run(t.name, t.sql, t.rows, t.root)
      db.prepare("UPDATE _meta SET value = ? WHERE key = 'RowsRoot'").run(m.rowsRoot)
    })()
    return true
  } catch {
    return false
  } finally {
    db.close()
  }
}

type Verdict = { code: string } | { tables: string } | { uncoded: string }

async function validate (path: string, opts: { bytes?: Buffer, pool?: TableRootPool }): Promise<Verdict> {
  try {
    const f = await readBlockFile(path, { maxBytes: MAX_BYTES, ...opts })
    return { tables: JSON.stringify(f.tables) }
  } catch (err) {
    return isPetalError(err) ? { code: err.code } : { uncoded: describeError(err) }
  }
}

const reserved = (f: BlockFile | undefined): string | undefined => f === undefined ? undefined : JSON.stringify({ header: f.header, keyOps: f.keyOps, tables: f.tables })

/** The re-sealed block on every validation path, and the page readers of its reserved tables. */
async function compareValidation (path: string, counts: FuzzCounts, pool?: TableRootPool): Promise<string[]> {
  const found: string[] = []
  const bytes = readFileSync(path)
  const plain = await validate(path, { pool })
  const held = await validate(path, { bytes, pool })
  counts.validated++
  for (const v of [plain, held]) if ('uncoded' in v) found.push(`validation threw ${v.uncoded}`)
  if (JSON.stringify(plain) !== JSON.stringify(held)) found.push(`validation: ${JSON.stringify(plain).slice(0, 200)} from the file, ${JSON.stringify(held).slice(0, 200)} from bytes held`)
  if (!('tables' in plain)) return found
  counts.accepted++
  const sqlite = await readBlockFile(path, { maxBytes: MAX_BYTES, checkManifest: false })
  const want = reserved(sqlite)
  for (const [how, read] of [['pages', () => readBlockPages(path, MAX_BYTES, bytes)], ['lean', () => readBlockLean(path, MAX_BYTES, bytes)]] as const) {
    let got: string | undefined
    try { got = reserved(read()) } catch (err) { found.push(`${how} reader threw ${describeError(err)} on an accepted block`); continue }
    if (got !== undefined && got !== want) found.push(`${how} reader: ${got.slice(0, 200)}, SQLite: ${want?.slice(0, 200) ?? ''}`)
  }
  return found
}

export interface MutantOptions {
  /** Only varints rewritten longer (manifest-varints.ts), on the user tables' b-tree pages. */
  varints?: boolean
  /** A node's pool: tables' roots and the validation through it too (comparePool). */
  pool?: TableRootPool
  /** Every mutant has a b-tree page's cell count changed (changeCellCount), not one in 12. */
  cellCounts?: boolean
}

/** Varints of a user table's b-tree page rewritten longer (a few tries for a page where they fit). */
function varintMutant (b: Buffer, s: SeedBlock, r: Rng): string {
  const pages = s.pages.filter(p => p.kind !== 'overflow')
  for (let tries = 0; tries < 5 && pages.length > 0; tries++) {
    const pg = pick(r, pages)
    const w = lengthenVarints(b, pg.page, r)
    if (w !== undefined) return `${pg.name}/${pg.kind} ${w}`
  }
  return 'varints: no page with room'
}

export interface Mutant { seed: number, index: number, what: string, found: string[] }

/**
 * Mutant `index` of a seed block: one to three changes drawn by (seed, index), then every
 * comparison. Returns what it changed and every disagreement found.
 */
export async function runMutant (dir: string, s: SeedBlock, seed: number, index: number, counts: FuzzCounts, native: boolean, opts: MutantOptions = {}): Promise<Mutant> {
  const r: Rng = rng((seed * 7919 + index * 104729) | 0)
  const path = join(dir, `m-${seed}-${index}.db`)
  const what: string[] = []
  if (opts.varints === true) {
    const b = Buffer.from(s.bytes)
    for (let n = 1 + Math.floor(r() * r() * 3); n > 0; n--) what.push(varintMutant(b, s, r))
    writeFileSync(path, b)
  } else if (r() < 0.08) {
    copyFileSync(s.path, path)
    what.push(mutateSchema(path, r))
  } else {
    let b: Buffer = Buffer.from(s.bytes)
    for (let n = 1 + Math.floor(r() * r() * 3); n > 0; n--) what.push(mutateBytes(b, s, r))
    // A page past the header's database size.
    const moved = r() < 0.05 ? movePastEnd(b, s.pages.filter(p => p.kind === 'internal').map(p => p.page), r) : undefined
    if (moved !== undefined) { b = moved[0]; what.push(moved[1]) }
    // A b-tree page's cell count changed, drawn apart (the draws above stay those of earlier sessions' replays).
    const rc = rng((seed * 7919 + index * 104729 + 1) | 0)
    if (opts.cellCounts === true || rc() < 0.08) what.push(changeCellCount(b, s, rc))
    writeFileSync(path, b)
  }
  counts.mutants++
  const found: string[] = []
  try {
    const quick = quickCheck(path)
    if (quick === 'ok') counts.quickOk++
    // The table whose page went past the header's page count (the count left authoritative), and
    // the one whose page's cell count was changed.
    const strict = new Set<string>()
    for (const w of what) {
      const parent = Number(/a child of p([0-9]+)\) moved to p[0-9]+, header size left$/.exec(w)?.[1])
      const counted = /^(\w+)\/\w+ p[0-9]+ cell count /.exec(w)?.[1]
      const name = s.pages.find(p => p.page === parent)?.name ?? counted
      if (name !== undefined) strict.add(name)
    }
    found.push(...await compareTables(path, readFileSync(path), quick === 'ok', native, counts, opts.pool, strict))
    if (quick === 'ok' || r() < 0.1) {
      reseal(path)
      // Then, for some, the reserved tables' pages (the page readers against SQLite's reading).
      if (r() < 0.25) what.push(mutateReserved(path, r))
      found.push(...await compareValidation(path, counts, opts.pool))
      // The re-sealed file's own tables (reseal may have moved the reserved tables' pages).
      if (opts.pool === undefined && quickCheck(path) === 'ok') found.push(...await compareTables(path, readFileSync(path), true, false, newCounts()))
    }
  } finally {
    if (found.length === 0) rmSync(path, { force: true })
  }
  return { seed, index, what: what.join('; '), found }
}
