import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { execFileSync } from 'node:child_process'
import { closeSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { CLI, petal, petalInProcess } from '../helpers/cli.js'
import { faultEnv, faultResult, faultShim } from '../helpers/fault-shim.js'
import { petal as petalWith } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'

/** Overwrite the b-tree page header of chain.db's `blocks` table: the file opens, its reads fail. */
function damageBlocksTable (chainDb: string): void {
  const db = new Database(chainDb)
  db.pragma('wal_checkpoint(TRUNCATE)')
  const root = (db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'blocks'").get() as { rootpage: number }).rootpage
  const pageSize = db.pragma('page_size', { simple: true }) as number
  db.close()
  const fd = openSync(chainDb, 'r+')
  try { writeSync(fd, Buffer.alloc(4, 0xff), 0, 4, (root - 1) * pageSize) } finally { closeSync(fd) }
}

// A chain index that SQLite opens but cannot read a page of (a damaged chain.db, or a read the
// disk failed: SQLite reports both as SQLITE_CORRUPT) was an internal error with a stack trace
// from the first query of it, and `petal reindex` failed on it the same way.
describe('a chain index with a damaged page', () => {
  it('is INDEX_CORRUPT with a hint whose reindex and verify, run as printed, rebuild it', async () => {
    const dir = join(tmpDir(), 'my node')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'src.db'), 10, 1)])).code).toBe(0)
    damageBlocksTable(join(dir, 'chain.db'))
    for (const cmd of ['status', 'blocks', 'verify']) {
      const r = await petal(['--dir', dir, cmd])
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(4)
      expect(r.stderr).toMatch(/\[INDEX_CORRUPT\]/)
      expect(r.stderr).not.toMatch(/internal error|\n\s+at .+:\d+:\d+/)
    }
    const hint = /hint: .*rebuild it with `([^`]+)`, then `([^`]+)`/.exec((await petal(['--dir', dir, 'status'])).stderr)
    expect(hint?.[1]).toBe(`petal --dir '${dir}' reindex`)
    const run = (cmd: string): string => execFileSync('bash', ['-c', `petal () { "${process.execPath}" "${CLI}" "$@"; }\n${cmd}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    expect(run(hint?.[1] ?? '')).toMatch(/reindexed 2 blocks up to height 1/)
    expect(run(hint?.[2] ?? '')).toMatch(/^ok: 2 blocks/)
    const status = await petal(['--dir', dir, '--json', 'status'])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ tip: { height: 1 } })
  }, 60_000)
})

// The same from a read the disk failed once (EIO, which SQLite's unixRead also reports as
// SQLITE_CORRUPT), at each of the reads of chain.db and its -wal that `blocks` makes: mend34's read
// lane found one an internal error with a stack (seed 3). Faults from the LD_PRELOAD shim.
describe.runIf(faultShim() !== undefined)('a read of chain.db the disk fails once', () => {
  it('never ends a command with an internal error: each read\'s failure is coded, with a hint', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'src.db'), 10, 1)])).code).toBe(0)
    const codes = new Set<string>()
    let nth = 1
    // Each read in turn, until the command makes fewer reads than nth.
    for (; nth <= 100; nth++) {
      const f = faultEnv({ dir, ops: ['read'], nth, errno: 'EIO', match: '/chain.db' })
      const r = await petalWith(['--dir', dir, 'blocks'], f.env)
      if (faultResult(f).injected === 0) {
        expect(r.code, r.stderr).toBe(0)
        break
      }
      expect(r.stderr, `read #${nth}`).not.toMatch(/internal error|\n\s+at .+:\d+:\d+/)
      if (r.code !== 0) {
        expect(r.code, `read #${nth}: ${r.stderr}`).toBe(4)
        expect(r.stderr, `read #${nth}`).toMatch(/hint: /)
        codes.add(/\[([A-Z_]+)\]/.exec(r.stderr)?.[1] ?? '?')
      }
    }
    expect(nth).toBeGreaterThan(5)
    expect([...codes].every(c => c === 'IO_ERROR' || c === 'INDEX_CORRUPT'), [...codes].join(' ')).toBe(true)
  }, 120_000)
})
