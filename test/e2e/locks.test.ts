import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { copiesOf } from '../helpers/copies.js'
import { petal, petalInProcess, spawnPetal, type Spawned } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

/**
 * A writer held at a known instant with the lock taken (PETAL_PAUSE, see src/util/failpoint.ts):
 * the real process, the real lock, for as long as the test needs.
 */
async function pausedWriter (dir: string, args: string[], point: string): Promise<{ writer: Spawned, release: () => Promise<void>, paused: () => boolean }> {
  const pause = join(tmpDir(), 'pause')
  const writer = spawnPetal(['--dir', dir, ...args], { env: { PETAL_PAUSE: point, PETAL_PAUSE_FILE: pause } })
  let ended = false
  void writer.exit.then(() => { ended = true })
  await waitFor(() => { if (ended) throw new Error('the writer ended before its pause'); return existsSync(pause) }, { what: `the writer to reach ${point}` })
  return {
    writer,
    paused: () => existsSync(pause),
    release: async () => { rmSync(pause, { force: true }); const r = await writer.exit; expect(r.code, r.stderr).toBe(0) }
  }
}

/** A chain of two blocks, made once for the file by the CLI in this process; each test changes a copy of its own. */
const newDir = copiesOf(async dir => {
  expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
  expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'a.db'), 20)])).code).toBe(0)
})

/** Every read-only command answers while the writer still holds the lock, and none says "corrupt". */
async function readersWhileLocked (dir: string, paused: () => boolean): Promise<void> {
  for (const args of [['status'], ['blocks'], ['block', '1'], ['signers'], ['mykeys'], ['verify'], ['query', 'SELECT count(*) AS n FROM t']]) {
    const r = await petal(['--dir', dir, ...args])
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    expect(r.stderr).not.toMatch(/INDEX_CORRUPT|database is locked/)
    expect(paused(), `the writer still holds the lock after \`petal ${args[0] as string}\``).toBe(true)
  }
}

describe('readers never wait for a writer; a second writer waits and says for whom', () => {
  it('during a long signimportblock', async () => {
    const dir = await newDir()
    const big = makeSqlite(join(tmpDir(), 'big.db'), 5000)
    const w = await pausedWriter(dir, ['signimportblock', big], 'sign-import:locked')
    await readersWhileLocked(dir, w.paused)

    const pid = String(w.writer.child.pid)
    // A writer with a limit gives up with a code, naming the holder and its work.
    const limited = await petal(['--dir', dir, 'signimportblock', '--wait', '0.3', makeSqlite(join(tmpDir(), 'c.db'), 2)])
    expect(limited.code).toBe(4)
    expect(limited.stderr).toContain(`waiting for pid ${pid} (signimportblock big.db`)
    expect(limited.stderr).toMatch(new RegExp(`gave up after .* waiting for pid ${pid} \\(signimportblock big\\.db, since .*\\).*\\[LOCK_TIMEOUT\\]`))
    // reindex must not take a busy index for a corrupt one (it used to delete chain.db then).
    const reindex = await petal(['--dir', dir, 'reindex', '--wait', '0'])
    expect(reindex.code).toBe(4)
    expect(reindex.stderr).toContain('[LOCK_TIMEOUT]')
    // One without a limit waits, says for whom, and goes on once the first is done.
    const second = spawnPetal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'd.db'), 3)])
    let said = ''
    second.child.stderr?.on('data', (d: Buffer) => { said += d.toString() })
    await waitFor(() => said.includes(`waiting for pid ${pid} (signimportblock big.db`), { what: 'the second writer to say what it waits for' })
    expect(w.paused()).toBe(true)
    await w.release()
    const r2 = await second.exit
    expect(r2.code, r2.stderr).toBe(0)
    expect(r2.stdout).toMatch(/^block 3 /)
    const v = await petal(['--dir', dir, '--json', 'verify'])
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, tip_height: 3 })
  })

  it('during a reindex', async () => {
    const dir = await newDir()
    const w = await pausedWriter(dir, ['reindex'], 'reindex:locked')
    await readersWhileLocked(dir, w.paused)
    const imp = await petal(['--dir', dir, 'signimportblock', '--wait', '0.2', makeSqlite(join(tmpDir(), 'e.db'), 2)])
    expect(imp.code).toBe(4)
    expect(imp.stderr).toMatch(new RegExp(`waiting for pid ${String(w.writer.child.pid)} \\(reindex, since`))
    await w.release()
    const v = await petal(['--dir', dir, '--json', 'verify'])
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, tip_height: 1 })
  })

  // A lost or unreadable chain.db has no old index to answer from: the reindex makes an empty one
  // and fills it in one transaction. Readers were told to "rebuild it with `petal reindex`", and
  // still were (mend28) between the old file's removal and the lock on the new one
  // (reindex:replaced), where writer.json was not written yet. `query` is refused alike: it answers
  // from the mirror only beside a chain.db that says which blocks are canonical.
  for (const [what, breakIndex] of [
    ['a lost', (dir: string) => { for (const f of ['chain.db', 'chain.db-wal', 'chain.db-shm']) rmSync(join(dir, f), { force: true }) }],
    // Its log copied in and gone first (a close leaves it since session 39, and SQLite would read
    // every page from it, the file unread).
    ['an unreadable', (dir: string) => { const db = new Database(join(dir, 'chain.db')); db.pragma('wal_checkpoint(TRUNCATE)'); db.close(); writeFileSync(join(dir, 'chain.db'), 'not an SQLite file'.repeat(100)) }]
  ] as const) {
    for (const point of ['reindex:replaced', 'reindex:locked']) {
      it(`during a reindex that replaces ${what} chain.db (${point}), readers are told to wait for it, not to start another`, async () => {
        const dir = await newDir()
        breakIndex(dir)
        const w = await pausedWriter(dir, ['reindex'], point)
        const pid = String(w.writer.child.pid)
        for (const args of [['status'], ['blocks'], ['block', '1'], ['signers'], ['query', 'SELECT count(*) AS n FROM t']]) {
          const r = await petal(['--dir', dir, ...args])
          expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(4)
          expect(r.stderr).toMatch(new RegExp(`chain\\.db is empty: pid ${pid} \\(reindex, since [^)]*\\) is rebuilding it from the block files \\[INDEX_CORRUPT\\]`))
          expect(r.stderr).toContain(`hint: wait for that reindex to finish (pid ${pid}), then run the command again`)
          expect(r.stderr).not.toMatch(/with `petal (--dir \S+ )?reindex`/)
        }
        for (const args of [['status'], ['query', 'SELECT 1']]) {
          const j = await petal(['--dir', dir, '--json', ...args])
          expect(JSON.parse(j.stdout || j.stderr)).toMatchObject({ error: { code: 'INDEX_CORRUPT', rebuilder: { pid: Number(pid), work: 'reindex' } } })
        }
        expect(w.paused()).toBe(true)
        await w.release()
        expect(existsSync(join(dir, 'writer.json'))).toBe(false)
        const s = await petal(['--dir', dir, '--json', 'status'])
        expect(JSON.parse(s.stdout)).toMatchObject({ tip: { height: 1 } })
      })
    }
  }

  // writer.json outlives a killed writer; its pid may then be given to an unrelated process, which
  // was taken for the writer (mend28): readers were told to wait for it for as long as it lived.
  it('a killed reindex\'s writer.json whose pid now belongs to another process is not believed', async () => {
    const dir = await newDir()
    rmSync(join(dir, 'chain.db'))
    const w = await pausedWriter(dir, ['reindex'], 'reindex:locked')
    const record = JSON.parse(readFileSync(join(dir, 'writer.json'), 'utf8')) as Record<string, unknown>
    w.writer.child.kill('SIGKILL')
    await w.writer.exit
    const other = spawn('sleep', ['60'], { stdio: 'ignore' })
    try {
      // The record as the killed reindex wrote it, its pid now another process's (as if reused).
      writeFileSync(join(dir, 'writer.json'), JSON.stringify({ ...record, pid: other.pid }) + '\n')
      const r = await petal(['--dir', dir, 'status'])
      expect(r.code).toBe(4)
      expect(r.stderr).toContain('[INDEX_CORRUPT]')
      expect(r.stderr).toContain(`hint: rebuild it from the block files with \`petal --dir ${dir} reindex\``)
      // The hint is true: the reindex runs and the index answers.
      const re = await petal(['--dir', dir, 'reindex'])
      expect(re.code, re.stderr).toBe(0)
      expect(JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout)).toMatchObject({ tip: { height: 1 } })
    } finally {
      other.kill()
    }
  })

  // Once the replacement chain.db exists, a second reindex opened it and waited for the first one's
  // lock like any writer (review29 pinned it), then rebuilt it again; now (mend29) it finds the
  // empty file named by a live reindex's record and is refused as readers are.
  it('a reindex beside one that is filling a replacement chain.db is refused, and the files stay the first one\'s', async () => {
    const dir = await newDir()
    rmSync(join(dir, 'chain.db'))
    const w = await pausedWriter(dir, ['reindex'], 'reindex:locked')
    const pid = String(w.writer.child.pid)
    const r = await petal(['--dir', dir, 'reindex'])
    expect(r.code).toBe(4)
    expect(r.stderr).toContain(`chain.db is empty: pid ${pid} (reindex, since`)
    expect(r.stderr).toContain(`hint: wait for that reindex to finish (pid ${pid}), then run the command again`)
    expect(JSON.parse(readFileSync(join(dir, 'writer.json'), 'utf8'))).toMatchObject({ pid: Number(pid), work: 'reindex' })
    expect(w.paused()).toBe(true)
    await w.release()
    expect(existsSync(join(dir, 'writer.json'))).toBe(false)
    expect(JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout)).toMatchObject({ tip: { height: 1 } })
  })

  // A reindex that finds chain.db missing while another, live, reindex's writer.json names it (that
  // one is about to make the new file) used to remove and remake the file under it.
  it('a reindex beside one that is replacing chain.db is refused, and leaves the files alone', async () => {
    const dir = await newDir()
    rmSync(join(dir, 'chain.db'))
    const other = spawn('sleep', ['60'], { stdio: 'ignore' })
    try {
      const pid = other.pid ?? 0
      const start = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19]
      writeFileSync(join(dir, 'writer.json'), JSON.stringify({ pid, work: 'reindex', since: new Date().toISOString(), start }) + '\n')
      const r = await petal(['--dir', dir, 'reindex', '--wait', '0'])
      expect(r.code).toBe(4)
      expect(r.stderr).toContain(`pid ${pid} (reindex, since`)
      expect(r.stderr).toContain(`hint: wait for that reindex to finish (pid ${pid}), then run the command again`)
      expect(existsSync(join(dir, 'chain.db'))).toBe(false)
    } finally {
      other.kill()
    }
  })
})
