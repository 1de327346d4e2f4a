// The log's checksum (wal-frames.ts), run over every frame of chain.db's log at each checkpoint and
// re-write, keeps its optimised code: its two sums were an array `[0, 0]` of small integers that
// turned to doubles at the first sum at or above 2^30, so the optimised code met the other map and
// was deoptimised (docs/performance/catchup.md, "Session 50: the catch-up's last deoptimisations of Petal's code (catchup50)"). V8's own account, in
// a child that reads one log 300 times with --trace-opt --trace-deopt, compiling on its own thread.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { entryOf, loaderFor } from '../../helpers/src-entry.js'

// The suite's bundle of the module (test/helpers/src-entry.ts), as the CLI runs a bundle.
const FRAMES_FILE = entryOf(join(import.meta.dirname, '..', '..', '..', 'src', 'storage', 'wal-frames.ts'))
const FRAMES = pathToFileURL(FRAMES_FILE).href
const dir = mkdtempSync(join(tmpdir(), 'petal-wal-checksum-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

const script = `
import Database from 'better-sqlite3'
import { readableCommits } from ${JSON.stringify(FRAMES)}
const file = ${JSON.stringify(join(dir, 'x.db'))}
const db = new Database(file)
db.pragma('journal_mode = WAL')
db.pragma('wal_autocheckpoint = 0')
db.exec('CREATE TABLE t (b BLOB)')
for (let i = 0; i < 20; i++) db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(3000, i))
const seen = new Set()
for (let k = 0; k < 300; k++) seen.add(readableCommits(file + '-wal', 1000))
console.log('commits ' + [...seen].join(','))
db.close()
`

describe('the WAL checksum', () => {
  it('is optimised and never deoptimised over 300 reads of a log, which read the same every time', () => {
    const r = spawnSync(process.execPath, ['--trace-opt', '--trace-deopt', '--no-concurrent-recompilation', ...loaderFor(FRAMES_FILE), '--input-type=module', '-e', script], { encoding: 'utf8', cwd: join(import.meta.dirname, '..', '..', '..') })
    expect(r.status, r.stderr).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines.filter(l => l.startsWith('commits '))).toEqual([expect.stringMatching(/^commits \d+$/)])
    expect(lines.some(l => l.startsWith('[completed compiling') && l.includes('<JSFunction checksum ') && l.includes('TURBOFAN'))).toBe(true)
    expect(lines.filter(l => l.includes('deoptimizing') && l.includes('<JSFunction checksum '))).toEqual([])
  })
})
