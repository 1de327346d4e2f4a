import { DataDir, IndexDb } from '../../storage/index.js'
import { errorMessage, withDetails } from '../../util/index.js'
import { QueryError, statementError } from '../errors.js'
import { openBlockChecked } from './block-file.js'
import { compile } from './connection.js'
import type { Emitter } from './emitter.js'
import { planPerBlock } from './plan.js'

/**
 * Daisy's mode, fixed: the statement runs in every canonical block that has the tables it reads
 * (from the catalog), genesis included, in height order; each row starts with `_height`. A block
 * where the statement fails stops the run with SQLite's message and the block's height.
 */
export async function runPerBlock (dataDir: string, sql: string, out: Emitter, range: { from?: number, to?: number }): Promise<void> {
  let index: IndexDb
  try {
    index = IndexDb.open(new DataDir(dataDir).chainDb, { readonly: true })
  } catch (err) {
    throw new QueryError('MIRROR_UNAVAILABLE', errorMessage(err), { hint: 'run `petal reindex`' })
  }
  let plan
  try {
    plan = planPerBlock(index, dataDir, sql, range)
  } finally {
    index.close()
  }
  const dir = new DataDir(dataDir)
  for (const ref of plan.blocks) {
    const where = `block ${ref.height}`
    const db = openBlockChecked(dir, ref)
    try {
      const stmt = compile(db, sql, where)
      await out.setColumns(['_height', ...stmt.columns().map(c => c.name)], where)
      const h = BigInt(ref.height)
      try {
        for (const row of stmt.iterate()) await out.push([h, ...row])
      } catch (err) {
        if (err instanceof QueryError) throw err
        throw statementError(err, where)
      }
    } catch (err) {
      // The block it failed in, unless the error already names one.
      throw err instanceof QueryError ? withDetails(err, { height: ref.height }) : err
    } finally {
      db.close()
    }
  }
  // No block has the tables: the header comes from the statement compiled against the catalog.
  if (plan.blocks.length === 0) await out.setColumns(['_height', ...plan.columns])
  await out.end({ tip: plan.tip, blocks: plan.blocks.length })
}
