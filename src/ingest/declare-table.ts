import type { Chain } from '../chain/index.js'
import { quote, said } from '../util/index.js'
import { IngestError } from './errors.js'
import { chainTable, type TableSchema } from './schema.js'

/**
 * A table pending.db has, declared again (`PUT /api/v1/tables`, `petal append --schema`): the
 * same statement is fine, another is refused (INGEST_TABLE_CONFLICT).
 */
export function conflictWithPending (existing: TableSchema): IngestError {
  return new IngestError('INGEST_TABLE_CONFLICT', `table ${existing.name} already exists with another definition`, {
    hint: existing.declared === undefined
      ? said`it was created from the first rows written to it, as: ${quote(existing.sql)}`
      : said`it was declared as: ${quote(existing.declared)}`,
    details: { table: existing.name, sql: existing.sql },
    quoted: { details: ['sql'] } // the statement is the chain's data, quoted apart (util/said.ts)
  })
}

/**
 * A table pending.db does not have, declared as `t`: when the chain has a table of that name, its
 * definition stands, as a first write to it takes it (append-tx.ts): the same statement (as SQLite
 * stores it) is declared as the chain defines it, another is refused with INGEST_TABLE_CONFLICT
 * naming the chain's statement and its block. Until session 49 the other definition was taken,
 * and the rows written to it were later refused against the chain's (INGEST_TYPE_MISMATCH,
 * INGEST_CONSTRAINT) or sealed into a block whose table differed from the chain's.
 */
export function declaredOnChain (chain: Chain, t: TableSchema): TableSchema {
  const onChain = chain.index.latestTable(t.name)
  if (onChain === undefined) return t
  const c = chainTable(onChain)
  if (c.sql === t.sql) return c
  throw new IngestError('INGEST_TABLE_CONFLICT', `table ${c.name} is already defined on the chain, by block ${onChain.height}, with another definition`, {
    hint: said`the chain defines it as: ${quote(onChain.sql)}; declare it with that statement, or append rows without declaring it (they take the chain's definition), or use another table name`,
    details: { table: c.name, sql: onChain.sql, height: onChain.height },
    quoted: { details: ['sql'] }
  })
}
