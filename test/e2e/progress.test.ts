import { join } from 'node:path'
import Database from 'better-sqlite3'
import { beforeAll, describe, expect, it } from 'vitest'
import { existsSync, rmSync } from 'node:fs'
import { petal, spawnPetal, type Exit } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// Progress on stderr when it is a pipe (CI logs, `2> log`): plain lines, no control characters,
// a few of them, each with a percentage, the current pass's bytes, a rate and an ETA; with
// --json, one JSON object per line. Work that ends within a second shows no progress at all, and
// how long this block takes depends on the machine, so each run is held at the pausepoint between
// the build and the validation for longer than that second: what follows is then always shown.

const QUIET_MS = 1_000 // src/cli/progress.ts

async function signimportblockHeld (args: string[]): Promise<Exit> {
  const pause = join(tmpDir(), 'pause')
  const run = spawnPetal(args, { env: { PETAL_PAUSE: 'sign-import:locked', PETAL_PAUSE_FILE: pause } })
  await waitFor(() => existsSync(pause), { what: 'signimportblock to reach its pausepoint', timeout: 120_000 })
  await new Promise(resolve => setTimeout(resolve, QUIET_MS + 200)) // the point of the test: outlast the quiet second
  rmSync(pause)
  return await run.exit
}

const CONTROL = /[\x00-\x09\x0b-\x1f\x7f]/ // eslint-disable-line no-control-regex
const LINE = /^signimportblock: \d{1,3}% (copying|checking|hashing rows|hashing|storing) [\d.]+ (B|KiB|MiB|GiB) of [\d.]+ (B|KiB|MiB|GiB)(, [\d.]+ (B|KiB|MiB|GiB)\/s)?(, ETA [\dhmins ]+|, [\dhmins ]+)?$/

describe('progress when stderr is not a terminal', () => {
  let dir: string
  let src: string
  beforeAll(async () => {
    const work = tmpDir()
    dir = join(work, 'data')
    const params = join(work, 'params.json')
    const { writeFileSync } = await import('node:fs')
    writeFileSync(params, JSON.stringify({ creator: 'test', description: 'progress', max_block_bytes: 256 * 1024 * 1024 }))
    expect((await petal(['--dir', dir, 'newchain', params])).code).toBe(0)
    src = join(work, 'big.db')
    const db = new Database(src)
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, b BLOB)')
    const ins = db.prepare('INSERT INTO t (k, b) VALUES (?, ?)')
    db.transaction(() => { for (let i = 0; i < 300_000; i++) ins.run(`key ${i}`, Buffer.alloc(100, i & 255)) })()
    db.close()
  }, 120_000)

  it('signimportblock: plain, throttled lines that end at 100%', async () => {
    const t0 = Date.now()
    const r = await signimportblockHeld(['--dir', dir, 'signimportblock', src])
    const seconds = (Date.now() - t0) / 1000
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stderr.split('\n').filter(l => l.startsWith('signimportblock:'))
    expect(lines.length, `progress lines in: ${r.stderr}`).toBeGreaterThan(0)
    for (const l of lines) {
      expect(l).not.toMatch(CONTROL)
      expect(l).toMatch(LINE)
    }
    expect(r.stderr).not.toMatch(/\r|\x1b/) // eslint-disable-line no-control-regex
    expect(lines.at(-1)).toMatch(/^signimportblock: 100% storing /)
    // One line per 5 s at most (the first after 1 s), plus the final one.
    expect(lines.length).toBeLessThanOrEqual(Math.floor(seconds / 5) + 2)
  }, 180_000)

  it('with --json: progress events are JSON lines on stderr; stdout holds only the result', async () => {
    const r = await signimportblockHeld(['--dir', dir, '--json', 'signimportblock', src])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'extended' })
    const events = r.stderr.split('\n').filter(l => l !== '').map(l => (JSON.parse(l) as { progress: { task: string, phase: string, done: number, total: number } }).progress)
    expect(events.length).toBeGreaterThan(0)
    for (const e of events) {
      expect(e.task).toBe('signimportblock')
      expect(e.done).toBeLessThanOrEqual(e.total)
    }
    expect(events.at(-1)).toMatchObject({ phase: 'storing' })
    expect(events.at(-1)?.done).toBe(events.at(-1)?.total)
  }, 180_000)
})
