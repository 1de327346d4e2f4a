import { DataDir } from '../../storage/layout.js'
import type { SqlValue } from '../../block/row-codec.js'
import { QueryError, statementError } from '../errors.js'
import type { Emitter } from './emitter.js'
import { checkStatementText } from './guard.js'
import { compile, openForQuery } from './connection.js'

/**
 * Default mode: the statement runs once against the query mirror, inside one read transaction so
 * that the tip it reports and the rows it returns come from the same snapshot.
 */
export async function runOnMirror (dataDir: string, sql: string, out: Emitter): Promise<void> {
  checkStatementText(sql)
  const db = openForQuery(new DataDir(dataDir).queryDb, 'the query mirror')
  try {
    db.exec('BEGIN')
    const tip = db.prepare('SELECT height, hash FROM _blocks ORDER BY height DESC LIMIT 1').get() as { height: number, hash: string } | undefined
    const stmt = compile(db, sql, 'the query mirror')
    await out.setColumns(stmt.columns().map(c => c.name))
    try {
      for (const row of stmt.iterate() as IterableIterator<SqlValue[]>) await out.push(row)
    } catch (err) {
      if (err instanceof QueryError) throw err
      throw statementError(err, 'the query mirror')
    }
    db.exec('COMMIT')
    await out.end({ tip })
  } finally {
    db.close()
  }
}
