import { afterAll, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { copyFileSync, cpSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { faultedNode, groupFaultNode } from '../helpers/faulted-node.js'
import { armFault, faultEnv, faultResult, faultShim } from '../helpers/fault-shim.js'
import { stopAll } from '../helpers/network.js'
import { petal, statusOf } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { petalInProcess } from '../helpers/cli.js'

// A COMMIT whose fsync of the -wal fails (session 34, fsync34): its frames, commit frame included,
// stay in the -wal, and the next process that rebuilds the wal-index from it found the "failed"
// change committed. Faults from the LD_PRELOAD shim (test/helpers/fault-shim.c).
afterAll(stopAll)
const withCc = faultShim() !== undefined

async function rowsIn (dir: string, table: string): Promise<number> {
  const q = await petal(['--dir', dir, 'query', `SELECT count(*) AS n FROM ${table}`])
  expect(q.code, q.stderr).toBe(0)
  return (JSON.parse(q.stdout.trim()) as { n: number }).n
}

describe.runIf(withCc)('a COMMIT whose fsync fails', () => {
  it('signimportblock: the block is undone for good, and running the import again adds it once', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'src1.db'), 10, 1)])).code).toBe(0)
    const src2 = makeSqlite(join(tmpDir(), 'src2.db'), 10, 2)
    // The commit's fsync of the -wal (the first: the -wal exists already) fails, once.
    const f = faultEnv({ dir, ops: ['fsync'], nth: 1, match: '/chain.db-wal' })
    const r = await petal(['--dir', dir, 'signimportblock', src2], f.env)
    expect(faultResult(f).injected).toBe(1)
    expect(r.code).toBe(4)
    expect(r.stderr).toMatch(/\[IO_ERROR\]/)
    expect(r.stderr).toMatch(/undone/)
    expect(r.stderr).toMatch(/hint: .*nothing was recorded/)
    // Before: the next process's recovery of the -wal found the failed commit, at height 2.
    expect((await statusOf(dir)).tip.height).toBe(1)
    const again = await petal(['--dir', dir, 'signimportblock', src2])
    expect(again.code, again.stderr).toBe(0)
    expect((await statusOf(dir)).tip.height).toBe(2)
    expect(await rowsIn(dir, 't')).toBe(20)
    const v = await petal(['--dir', dir, 'verify'])
    expect(v.code, v.stderr).toBe(0)
  }, 60_000)

  it('signimportblock on a disk that keeps failing: says the change may still be recorded', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'src1.db'), 10, 1)])).code).toBe(0)
    // Every fsync of the -wal fails: the undoing commit's too.
    const f = faultEnv({ dir, ops: ['fsync'], nth: 1, sticky: true, match: '/chain.db-wal' })
    const r = await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'src2.db'), 10, 2)], f.env)
    expect(faultResult(f).injected).toBeGreaterThanOrEqual(2)
    expect(r.stderr).toMatch(/\[IO_ERROR\]/)
    expect(r.stderr).toMatch(/may still be recorded/)
    expect(r.stderr).toMatch(/`petal (--dir \S+ )?status`/)
    // The undoing commit's frame was written over the failed commit's, though its fsync failed:
    // read back from the page cache, the failed commit is gone. Only a power cut could leave the
    // failed commit's frames on the disk instead: hence "may", and the look the hint asks for.
    expect((await statusOf(dir)).tip.height).toBe(1)
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
  }, 60_000)

  it('append on a disk that keeps failing: the hint\'s commands, run as printed, show whether the rows were kept', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const rows = join(tmpDir(), 'rows.ndjson')
    writeFileSync(rows, '{"a":1}\n{"a":2}\n')
    expect((await petal(['--dir', dir, 'append', 'before', rows])).code).toBe(0)
    // Every fsync of pending.db-wal fails, the store made: the append's commit and its undo.
    const f = faultEnv({ dir, ops: ['fsync'], nth: 1, sticky: true, match: '/pending.db-wal', caller: 'better_sqlite3.node' })
    const r = await petal(['--dir', dir, 'append', 'kept', rows], f.env)
    expect(r.stderr).toMatch(/\[IO_ERROR\]/)
    expect(r.stderr).toMatch(/may still be recorded/)
    // Before: "look (`petal status`)", which says nothing of pending rows (tip, blocks, keys, node).
    const printed = [...(/hint: (.*)/.exec(r.stderr)?.[1] ?? '').matchAll(/`petal ([^`]*)`/g)].map(m => m[1] ?? '')
    expect(printed.map(c => c.split(' ').slice(2, 3)[0])).toEqual(['seal', 'query'])
    expect(printed.every(c => c.startsWith(`--dir ${dir} `))).toBe(true)
    const s = await petal(printed[0]?.split(' ') ?? [])
    expect(s.code, s.stderr).toBe(0)
    // The failed commit's frames were overwritten in the page cache by the undo: none were kept.
    expect(await rowsIn(dir, 'kept').catch(() => 0)).toBe(0)
  }, 60_000)

  it('POST /records: a refused row does not come back after a crash, so the client\'s retry is sealed once', async () => {
    // Once armed, the next fsync of pending.db-wal fails: the refused request's commit.
    const { dir, node, fault: f, url, token } = await faultedNode({ ops: ['fsync'], nth: 1, match: '/pending.db-wal', armed: false })
    try {
      const post = async (a: number): Promise<Response> => await fetch(url + 'api/v1/records/kept', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify([{ a }]) })
      expect((await post(1)).status).toBe(202)
      armFault(f)
      const r = await post(2)
      const body = await r.json() as { error: { code: string, hint?: string } }
      expect(faultResult(f).injected).toBe(1)
      expect(r.status).toBe(503)
      expect(body.error.code).toBe('IO_ERROR')
      expect(body.error.hint).toMatch(/nothing was recorded/)
    } finally { await node.kill9() }
    // The node dies before any other write: the next open rebuilds the wal-index from the -wal.
    const s = await petal(['--dir', dir, '--json', 'seal'])
    expect(s.code, s.stderr).toBe(0)
    // Before: the refused row was recovered as committed and sealed (2 rows), beside the retry to come.
    expect((JSON.parse(s.stdout) as { rows: number }).rows).toBe(1)
    expect(await rowsIn(dir, 'kept')).toBe(1)
  }, 60_000)

  it('a failed automatic checkpoint after a durable commit does not fail it: the rows are kept', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const one = join(tmpDir(), 'one.ndjson')
    writeFileSync(one, '{"a":0,"b":""}\n')
    expect((await petal(['--dir', dir, 'append', 'kept', one])).code).toBe(0)
    // 5 MiB in one commit: past 1,000 frames, so the COMMIT checkpoints (SQLite's automatic
    // checkpoint). The new -wal's header and the commit take the first two fsyncs, every later
    // one (the checkpoint's of the -wal and of pending.db, the close's) fails.
    const big = join(tmpDir(), 'big.ndjson')
    writeFileSync(big, Array.from({ length: 20_000 }, (_, a) => JSON.stringify({ a, b: 'x'.repeat(250) })).join('\n') + '\n')
    const f = faultEnv({ dir, ops: ['fsync'], nth: 3, sticky: true, match: '/pending.db' })
    const r = await petal(['--dir', dir, 'append', 'kept', big], f.env)
    expect(faultResult(f).injected).toBeGreaterThan(0)
    // SQLite's default WAL hook ignores its checkpoint's failure: the COMMIT, durable, succeeded,
    // and the hints of SQLITE_FULL and _IOERR_WRITE ("rolled back") speak of COMMITs only.
    expect(r.code, r.stderr).toBe(0)
    const s = await petal(['--dir', dir, '--json', 'seal'])
    expect(s.code, s.stderr).toBe(0)
    expect((JSON.parse(s.stdout) as { rows: number }).rows).toBe(20_001)
  }, 60_000)

  it('import --from: a group whose -wal fsync failed is re-written into chain.db by the next writer, not fsynced again', async () => {
    const src = join(tmpDir(), 'src')
    expect((await petalInProcess(['--dir', src, 'init'])).code).toBe(0)
    const dst = join(tmpDir(), 'dst')
    cpSync(src, dst, { recursive: true })
    // chain.db whole, its -wal gone, so that the import's first commit starts a new log (init's
    // close leaves it since session 39: no checkpoint at a close).
    const settle = new Database(join(dst, 'chain.db'))
    settle.pragma('wal_checkpoint(TRUNCATE)')
    settle.close()
    for (let i = 1; i <= 3; i++) expect((await petalInProcess(['--dir', src, 'signimportblock', makeSqlite(join(tmpDir(), `s${i}.db`), 10, i)])).code).toBe(0)
    // The group commits at synchronous = NORMAL (the new -wal's header is the first fsync), then
    // the fsync of chain.db-wal that makes it durable (the second) fails.
    const f = faultEnv({ dir: dst, ops: ['fsync'], nth: 2, match: '/chain.db-wal' })
    const r = await petal(['--dir', dst, 'import', '--from', src], f.env)
    expect(faultResult(f).log.join('\n')).toMatch(/ fsync 2 node .*chain\.db-wal$/)
    expect(r.code).toBe(4)
    expect(r.stderr).toMatch(/\[IO_ERROR\]/)
    expect(r.stderr).toMatch(/in the index, not yet known to be on disk/)
    expect(existsSync(join(dst, 'journal.json'))).toBe(true)
    // The next writer (opening the chain recovers) takes the group for durable only once it has
    // re-written it: chain.db by itself, without its -wal, holds the three blocks. Before: it
    // fsynced the -wal again, which succeeded, and removed the journal; chain.db held the genesis
    // alone.
    const again = await petal(['--dir', dst, 'import', '--from', src])
    expect(again.code, again.stderr).toBe(0)
    expect(existsSync(join(dst, 'journal.json'))).toBe(false)
    const alone = join(tmpDir(), 'alone.db')
    copyFileSync(join(dst, 'chain.db'), alone)
    const db = new Database(alone, { readonly: true })
    try {
      expect(db.prepare('SELECT count(*) AS n FROM blocks WHERE canonical = 1').get()).toEqual({ n: 4 })
    } finally { db.close() }
    expect((await statusOf(dst)).tip.height).toBe(3)
    const v = await petal(['--dir', dst, 'verify'])
    expect(v.code, v.stderr).toBe(0)
  }, 60_000)

  it('POST /records from concurrent clients: a group whose deferred fsync failed is re-written, never refused yet sealed', async () => {
    const { dir, node, fault: f, statuses, burst } = await groupFaultNode()
    try {
      // The first burst makes the store take the appends as concurrent, a later one meets the fault.
      await burst(0)
      armFault(f)
      for (let from = 100; faultResult(f).injected === 0 && from < 1000; from += 100) await burst(from)
      expect(faultResult(f).log.join('\n')).toMatch(/ fdatasync 1 node .*pending\.db-wal$/)
    } finally { await node.kill9() }
    // Before: the group was refused (503) though its rows were committed, and sealed beside the
    // clients' retries. Now the log is re-written into pending.db and the appends acknowledged.
    expect(statuses.every(x => x === 202), statuses.join(' ')).toBe(true)
    const s = await petal(['--dir', dir, '--json', 'seal'])
    expect(s.code, s.stderr).toBe(0)
    expect((JSON.parse(s.stdout) as { rows: number }).rows).toBe(statuses.filter(x => x === 202).length)
  }, 60_000)
})
