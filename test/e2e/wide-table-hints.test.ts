import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { signImport } from '../../src/chain/index.js'
import { fixtureKey, newTestChain } from '../helpers/chain.js'
import { CLI, petal } from '../helpers/cli.js'
import { sqliteFile } from '../helpers/query.js'
import { tmpDir } from '../helpers/tmp.js'

// A table too wide for the query mirror is queried block by block, as QUERY_TABLE_TOO_WIDE's hint
// says. The hint printed the table's name bare in SQL and the statement in double quotes, and
// export's hint had no backticks (so no --dir): for a table `my wide$1` the printed command was
// another statement, run on another directory (review34). Each is run here as printed.
describe('QUERY_TABLE_TOO_WIDE: the per-block command its hint prints runs as printed', () => {
  it('query and export of a table named `my wide$1`', async () => {
    const alice = fixtureKey('alice')
    const dir = join(tmpDir(), 'my node')
    const { chain } = await newTestChain({ key: alice, dir })
    // 2 × 1,100 distinct columns: beyond SQLite's 2,000 per table.
    for (const prefix of ['c', 'd']) {
      const cols = Array.from({ length: 1100 }, (_, i) => `${prefix}${i} INT`)
      const file = sqliteFile(join(tmpDir(), `${prefix}.db`), db => { db.exec(`CREATE TABLE "my wide$1" (${cols.join(', ')}); INSERT INTO "my wide$1" (${prefix}0) VALUES (7)`) })
      await signImport(chain, file, alice)
    }
    chain.close()
    const home = tmpDir()
    for (const args of [['query', 'SELECT count(*) FROM "my wide$1"'], ['export', 'my wide$1']]) {
      const r = await petal(['--dir', dir, ...args], { env: { HOME: home } })
      expect(r.stderr).toContain('[QUERY_TABLE_TOO_WIDE]')
      const cmd = /hint: .*`(petal [^`]*)`/.exec(r.stderr)?.[1] ?? ''
      expect(cmd).toContain(`petal --dir '${dir}' query --per-block`)
      const out = execFileSync('bash', ['-c', `petal () { "${process.execPath}" "${CLI}" "$@"; }\n${cmd.replace('…', 'count(*)')}`], { env: { ...process.env, HOME: home, PETAL_DIR: '' }, encoding: 'utf8' })
      // One row from each block: heights 1 and 2.
      expect(out.trim().split('\n').filter(l => /\b[12]\b/.test(l)).length, out).toBeGreaterThanOrEqual(2)
    }
  }, 120_000)
})
