import Database from 'better-sqlite3'
import { beforeAll, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { petal, spawnPetal, type Spawned } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// `petal export -o FILE` writes FILE under a temporary name beside it. A kill -9 leaves that file:
// the next export to FILE removes it once its writer is gone (never a live export's, nor another
// PID namespace's younger than a day). Before session 43 it was `.FILE.<pid>.tmp`, which nothing
// removed. docs/cli.md, "petal export".

let dir: string
let csv: string

beforeAll(async () => {
  dir = join(tmpDir(), 'data')
  expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
  const rows = join(tmpDir(), 'rows.csv')
  writeFileSync(rows, 'k,v\n' + Array.from({ length: 50 }, (_, i) => `k${i},${i}\n`).join(''))
  const r = await petal(['--dir', dir, 'signimportblock', rows, '--table', 't'])
  expect(r.code, r.stderr).toBe(0)
  const e = await petal(['--dir', dir, 'export', 't'])
  expect(e.code, e.stderr).toBe(0)
  csv = e.stdout
}, 60_000)

/** `petal export t -o out` held at export:written (its output complete under the temporary name). */
async function heldExport (out: string): Promise<{ p: Spawned, pause: string }> {
  const pause = join(tmpDir(), 'pause')
  const p = spawnPetal(['--dir', dir, 'export', 't', '-o', out], { env: { PETAL_PAUSE: 'export:written', PETAL_PAUSE_FILE: pause } })
  let ended = false
  void p.exit.then(() => { ended = true })
  await waitFor(() => { if (ended) throw new Error('the export ended before export:written'); return existsSync(pause) }, { what: 'the export to be written' })
  return { p, pause }
}

/** A pid no process has: a child's that has ended. */
function deadPid (): number {
  const r = spawnSync(process.execPath, ['-e', '0'])
  return r.pid as number
}

describe('petal export -o: a killed export\'s temporary file', () => {
  it('is removed by the next export to the same file (CSV and SQLite), which writes the file', async () => {
    for (const name of ['out.csv', 'out.db']) {
      const where = tmpDir()
      const out = join(where, name)
      const { p, pause } = await heldExport(out)
      const temps = readdirSync(where)
      expect(temps).toHaveLength(1)
      p.child.kill('SIGKILL')
      expect((await p.exit).signal).toBe('SIGKILL')
      rmSync(pause, { force: true })
      expect(readdirSync(where)).toEqual(temps)
      const again = await petal(['--dir', dir, 'export', 't', '-o', out])
      expect(again.code, again.stderr).toBe(0)
      expect(readdirSync(where)).toEqual([name])
      if (name === 'out.csv') expect(readFileSync(out, 'utf8')).toBe(csv)
      else {
        const db = new Database(out, { readonly: true })
        try { expect(db.prepare('SELECT count(*) AS n, sum(v) AS s FROM t').get()).toEqual({ n: 50, s: 1225 }) } finally { db.close() }
      }
    }
  })

  it('is kept while its export runs, and another PID namespace\'s until a day old; an older version\'s name goes too', async () => {
    const where = tmpDir()
    const out = join(where, 'out.csv')
    const dead = deadPid()
    // Another namespace's (n1: no process's namespace has inode 1): kept fresh, removed when old.
    const foreignFresh = `out.csv.n1.${dead}.0123abcd.tmp`
    const foreignOld = `out.csv.n1.${dead}.4567abcd.tmp`
    // What an export before session 43 left when killed.
    const older = `.out.csv.${dead}.tmp`
    // Not an export's of out.csv: never touched.
    const others = [`other.csv.${dead}.0123abcd.tmp`, `.other.csv.${dead}.tmp`]
    for (const n of [foreignFresh, foreignOld, older, ...others]) writeFileSync(join(where, n), 'x')
    const twoDaysAgo = new Date(Date.now() - 48 * 3600_000)
    utimesSync(join(where, foreignOld), twoDaysAgo, twoDaysAgo)
    const { p, pause } = await heldExport(out)
    const live = readdirSync(where).filter(n => ![foreignFresh, foreignOld, older, ...others].includes(n))
    expect(live).toHaveLength(1)
    try {
      const second = await petal(['--dir', dir, 'export', 't', '-o', out])
      expect(second.code, second.stderr).toBe(0)
      expect(readdirSync(where).sort()).toEqual([foreignFresh, ...others, live[0], 'out.csv'].sort())
    } finally {
      rmSync(pause, { force: true })
    }
    // The held export finds out.csv made meanwhile, says so and removes its own temporary.
    const first = await p.exit
    expect(first.code, first.stderr).toBe(2)
    expect(first.stderr).toContain('made while the export ran')
    expect(readdirSync(where).sort()).toEqual([foreignFresh, ...others, 'out.csv'].sort())
    expect(readFileSync(out, 'utf8')).toBe(csv)
  })
})
