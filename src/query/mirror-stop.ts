import type { Chain } from '../chain/index.js'
import { QueryError } from './errors.js'
import type { MirrorStop } from './mirror/mirror.js'
import { asciiLower } from './names.js'

/**
 * A statement's QUERY_UNKNOWN_TABLE when the query mirror has stopped below the tip
 * (MIRROR_BLOCK_MISSING: a block file missing, damaged or unreadable) and the chain has that
 * table in a canonical block at or above the stop: the table is not unknown, the mirror is short
 * of it. That error is the stop's, naming the table and the remedy the stop gives (the mirror
 * catches up by itself once the file reads again). Any other error is returned as it is.
 */
export function explainMirrorStop (chain: Chain, err: unknown, stop: MirrorStop | undefined): unknown {
  if (stop === undefined || !QueryError.is(err) || err.code !== 'QUERY_UNKNOWN_TABLE') return err
  const said = typeof err.details.sqliteMessage === 'string' ? err.details.sqliteMessage : err.message
  const name = /^no such table: (?:\w+\.)?(.+?)(?: \(in .*)?$/.exec(said)?.[1]
  if (name === undefined) return err
  let above: number | undefined
  try {
    above = chain.index.readTransaction(() => chain.index.blocksWithTables([asciiLower(name)], stop.height, chain.tip().height))[0]?.block.height
  } catch {
    return err // the index cannot say: the statement's own error stands
  }
  if (above === undefined) return err
  return new QueryError('MIRROR_BLOCK_MISSING', `table ${name} is first in block ${above}, which the query mirror does not have yet: ${stop.message}`, {
    hint: stop.hint, details: { height: stop.height, hash: stop.hash }
  })
}
