import { spawnSync } from 'node:child_process'
import { readdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { sqliteFile } from '../helpers/query.js'
import { tmpDir } from '../helpers/tmp.js'

/**
 * `petal query` on a table that only blocks above where the query mirror stops have (block 2's
 * file missing): before (http35), QUERY_UNKNOWN_TABLE, "no block has a table of that name". Now
 * MIRROR_BLOCK_MISSING with the stop and a hint that runs as printed.
 */
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'petal.js')
const ENV = { ...process.env, PETAL_PASSPHRASE: '' }

function petal (dir: string, ...args: string[]): { status: number | null, stdout: string, stderr: string } {
  return spawnSync(process.execPath, [BIN, '--dir', dir, ...args], { encoding: 'utf8', env: ENV })
}

let work: string
let dir: string
let file: string

beforeAll(() => {
  work = tmpDir()
  dir = join(work, 'data')
  expect(petal(dir, 'init').status).toBe(0)
  for (const [i, t] of [[1, 't'], [2, 'u']] as const) {
    const f = sqliteFile(join(work, `in${i}.db`), db => { db.exec(`CREATE TABLE ${t} (a INTEGER); INSERT INTO ${t} VALUES (${i})`) })
    expect(petal(dir, 'signimportblock', f).status).toBe(0)
  }
  const shard = join(dir, readdirSync(dir).find(n => /^[0-9a-f]{4}$/.test(n)) ?? expect.fail('no block directory'))
  file = join(shard, 'block_00000002.db')
  renameSync(file, join(work, 'away.db'))
  for (const f of ['query.db', 'query.db-wal', 'query.db-shm']) rmSync(join(dir, f), { force: true }) // the mirror is rebuilt, and stops at 1
}, 60_000)

describe('petal query while the query mirror stops below the tip', () => {
  it('names the stop, and its hint runs as printed on the same directory', () => {
    expect(petal(dir, 'query', 'SELECT a FROM t').stdout).toBe('{"a":1}\n')
    const r = petal(dir, 'query', 'SELECT a FROM u')
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain('petal: error: table u is first in block 2, which the query mirror does not have yet: the query mirror stops at height 1: the file of block 2 is missing or damaged [MIRROR_BLOCK_MISSING]')
    const cmd = /hint: put it back with `([^`]+)`/.exec(r.stderr)?.[1] ?? expect.fail(r.stderr)
    expect(cmd).toBe(`petal --dir ${dir} verify --repair`)
    // Run as printed (petal is bin/petal.js here): it finds the same block missing in the same directory.
    const v = spawnSync(process.execPath, [BIN, ...cmd.split(' ').slice(1)], { encoding: 'utf8', env: ENV })
    expect(v.stdout + v.stderr).toMatch(/height 2 .*missing/)
  })

  it('once the file is back, the mirror catches up and the statement answers', () => {
    renameSync(join(work, 'away.db'), file)
    const r = petal(dir, 'query', 'SELECT a FROM u')
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('{"a":2}\n')
  })
})
