// Table t of a (perhaps damaged) SQLite file read by SQLite, the oracle, and by the fast page reader
// (btree.ts), for the tests that hold the page reader to SQLite's verdicts (page-count, cell-count).
import { readFileSync } from 'node:fs'
import { inspectSchema, openBlockReadonly, tableRoot } from '../../src/block/index.js'
import { BtreeUnsupported } from '../../src/block/btree.js'
import { fastTableRoot, planFastTable, type FastPlan, type LeafEncoderMode } from '../../src/block/fast-rows.js'
import { toHex } from '../../src/util/index.js'

/** A table's rows and root, or why it was refused (SQLite's message, or `declined: …` of the page reader). */
export type Answer = { rows: number, root: string } | { refused: string }

/** The page reader's answer from `run`: its rows and root, or its decline. */
export function fastAnswer (run: () => { rows: number, root: Uint8Array | string }): Answer {
  try {
    const r = run()
    return { rows: r.rows, root: typeof r.root === 'string' ? r.root : toHex(r.root) }
  } catch (err) {
    if (err instanceof BtreeUnsupported) return { refused: `declined: ${err.message}` }
    throw err
  }
}

/**
 * SQLite's reading of table t at `path` (on a block's hardened connection) and the page reader's:
 * whole with each of `modes`, from the file and from its bytes, then `more` (other ways to read it).
 */
export function tableReadings (path: string, modes: readonly LeafEncoderMode[], more: (plan: FastPlan) => Answer[] = () => []): { sqlite: Answer, fast: Answer[] } {
  const db = openBlockReadonly(path)
  try {
    const t = inspectSchema(db, 'input').userTables.find(u => u.name === 't')
    const plan = t === undefined ? undefined : planFastTable(db, t)
    if (t === undefined || plan === undefined) throw new Error('no plan for t')
    let sqlite: Answer
    try { sqlite = tableRoot(db, t) } catch (err) { sqlite = { refused: (err as Error).message } }
    const fast = modes.flatMap(mode => [undefined, readFileSync(path)].map(source => fastAnswer(() => fastTableRoot(path, plan, undefined, mode, source))))
    return { sqlite, fast: [...fast, ...more(plan)] }
  } finally {
    db.close()
  }
}
