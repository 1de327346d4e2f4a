import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BLOCK_VERSION, KEYS_DDL, META_DDL, TABLES_DDL } from '../src/block/constants.js'

/**
 * Where a benchmark keeps chains it built on an earlier run (building them is not what is
 * measured). The name carries a digest of the block format, so a cache built by an older format
 * is never read as if it were current: a format change simply builds a new one.
 */
export function benchCacheDir (name: string): string {
  const format = createHash('sha256').update([BLOCK_VERSION, META_DDL, KEYS_DDL, TABLES_DDL].join('\n')).digest('hex').slice(0, 12)
  return join(tmpdir(), `petal-bench-${name}-${format}`)
}
