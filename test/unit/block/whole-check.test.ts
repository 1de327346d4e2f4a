// readOpen's fast path: a block with no index but the reserved tables' primary keys (and no
// WITHOUT ROWID table) is checked by one whole-file `PRAGMA integrity_check` instead of
// quick_check and the three reserved tables' integrity_checks. A regression that never takes it
// would still accept and refuse the same blocks, so the statements SQLite is asked are counted.
import { afterEach, describe, expect, it, vi } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { buildBlock, readBlockFile } from '../../../src/block/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const MAX = 1 << 26

async function block (ddl: string): Promise<string> {
  const dir = tmpDir()
  const src = join(dir, 'u.db')
  const u = new Database(src)
  u.exec(ddl)
  u.close()
  const b = await buildBlock({ source: src, output: join(dir, 'b.db'), key: fixtureKey('alice'), chainId: 'aa'.repeat(32), height: 3, previousHash: 'bb'.repeat(32), timestamp: '2026-03-01T10:00:00.000Z', maxBytes: MAX })
  return b.path
}

/** The integrity and quick checks SQLite runs while the block is read: by `pragma`, or prepared as a PRAGMA (the whole check, a statement a kept connection keeps). */
async function checksOf (path: string): Promise<string[]> {
  const seen: string[] = []
  const { pragma, prepare } = Database.prototype
  const spies = [
    vi.spyOn(Database.prototype, 'pragma').mockImplementation(function (this: Database.Database, source: string, o?: Database.PragmaOptions) { seen.push(source); return pragma.call(this, source, o) }),
    vi.spyOn(Database.prototype, 'prepare').mockImplementation(function (this: Database.Database, sql: string) { seen.push(sql.replace(/^PRAGMA /, '')); return prepare.call(this, sql) })
  ]
  try {
    await readBlockFile(path, { maxBytes: MAX })
    return seen.filter(s => /^(quick|integrity)_check/.test(s))
  } finally {
    for (const s of spies) s.mockRestore()
  }
}

afterEach(() => { vi.restoreAllMocks() })

describe('the whole-file integrity check', () => {
  it('is the one check of a block with only ordinary tables and the reserved primary keys', async () => {
    const path = await block("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT); INSERT INTO t VALUES (1, 'one'), (2, 'two')")
    expect(await checksOf(path)).toEqual(['integrity_check(1)'])
  })

  it('is not tried on a block with a user index: quick_check and the reserved tables\' checks run', async () => {
    const path = await block("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT); CREATE INDEX tb ON t (b); INSERT INTO t VALUES (1, 'one'), (2, 'two')")
    const checks = await checksOf(path)
    expect(checks).not.toContain('integrity_check(1)')
    expect(checks[0]).toBe('quick_check(1)')
    expect(checks.slice(1).sort()).toEqual(['integrity_check(_keys)', 'integrity_check(_meta)', 'integrity_check(_tables)'])
  })

  it('is not tried on a block with a WITHOUT ROWID table', async () => {
    const path = await block("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT) WITHOUT ROWID; INSERT INTO t VALUES (1, 'one')")
    const checks = await checksOf(path)
    expect(checks).not.toContain('integrity_check(1)')
    expect(checks[0]).toBe('quick_check(1)')
  })
})
