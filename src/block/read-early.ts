/**
 * verify --deep's large tables offered to idle threads before the block's quick_check, as
 * signimportblock's build starts its manifest before its own (build.ts, startManifest): a block
 * read alone by one worker (a run's last blocks) otherwise had the other worker idle through its
 * quick_check, then split the manifest with it (shared-roots.ts). This only reads: a chunk's roots
 * count once every check before the manifest has passed, for the table checked with the same DDL
 * and plan (read.ts, checkTableRoots); anything that fails here leaves the table to the usual path,
 * and a block refused before its manifest withdraws the offers (the verdicts are unchanged).
 */
import { fastTableLeaves, planFastTable, type FastPlan } from './fast-rows.js'
import { inspectSchema, type UserTable } from './schema.js'
import type { SharedTable, TableShare } from './shared-roots.js'
import type { Db } from './sqlite.js'

export interface EarlyTable { sql: string, plan: FastPlan, shared: SharedTable }

/** The rowid tables of the block open on `db` large enough to share, offered now, by name. */
export function offerEarly (db: Db, path: string, share: TableShare, bytes?: Buffer): Map<string, EarlyTable> {
  const out = new Map<string, EarlyTable>()
  let tables: UserTable[]
  try {
    tables = inspectSchema(db, 2).userTables
  } catch {
    // A schema the checks refuse (or a v1 block): nothing offered, the checks decide.
    return out
  }
  for (const t of tables) {
    if (t.withoutRowid) continue
    try {
      const plan = planFastTable(db, t)
      if (plan === undefined) continue
      const { pages, cells } = fastTableLeaves(path, plan, bytes)
      const shared = share.offer(path, plan, pages, cells)
      if (shared !== undefined) out.set(t.name, { sql: t.sql, plan, shared })
    } catch {
      // SQLite's or the page reader's doubt about the file (BtreeUnsupported): the checks that follow decide.
    }
  }
  return out
}

/** The offer of table `t` if it is the one offered (same DDL and plan): taken out of `early`. */
export function takeEarly (early: Map<string, EarlyTable> | undefined, t: UserTable, plan: FastPlan | null): SharedTable | undefined {
  const e = early?.get(t.name)
  if (e === undefined) return undefined
  early?.delete(t.name)
  if (e.sql === t.sql && plan !== null && JSON.stringify(e.plan) === JSON.stringify(plan)) return e.shared
  e.shared.cancel()
  return undefined
}
