import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeSqlite } from '../helpers/chain.js'
import { copiesOf } from '../helpers/copies.js'
import { buildDaisyDir } from '../helpers/daisy.js'
import { faultEnv, faultResult, faultShim } from '../helpers/fault-shim.js'
import { petal } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// Reads the disk fails once (a transient EIO, which SQLite reports as a malformed file), and other
// failures of the disk that were reported as the file's or the user's fault (session 35, mend35).
const withCc = faultShim() !== undefined
const noStack = /internal error|\n\s+at .+:\d+:\d+/

// Made once for the file by the CLI (init and three imports), copied for each test that asks.
const pairs = copiesOf(async root => {
  const dir = join(root, 'data')
  expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
  const full = join(root, 'full')
  cpSync(dir, full, { recursive: true })
  for (let i = 1; i <= 3; i++) expect((await petal(['--dir', full, 'signimportblock', makeSqlite(join(tmpDir(), `s${i}.db`), 200, i)])).code).toBe(0)
}, 'pair')

/** A directory holding only the genesis, and a copy of it with three blocks of rows above. */
async function pair (): Promise<{ dir: string, full: string }> {
  const root = await pairs()
  return { dir: join(root, 'data'), full: join(root, 'full') }
}

describe.runIf(withCc)('I/O faults: a read that fails once, and other failures of the disk', () => {
  it('import --from: a block SQLite could not read once is IO_ERROR, not CORRUPT "repair it or fetch it again"; the import run again takes it', async () => {
    const { dir, full } = await pair()
    // SQLite's second read of a block checked in tmp/ (its first is the open's, SQLITE_IOERR_CORRUPTFS).
    const f = faultEnv({ dir, ops: ['read'], nth: 2, match: '/data/tmp/', caller: 'better_sqlite3.node' })
    const r = await petal(['--dir', dir, 'import', '--from', full], f.env)
    expect(faultResult(f).injected).toBe(1)
    // Before: exit 3 [CORRUPT], "SQLite could not read the block: database disk image is malformed".
    expect(r.code, r.stderr).toBe(4)
    expect(r.stderr).toMatch(/a read the disk failed once: SQLite called the file malformed.* \[IO_ERROR\]\n {2}hint: check the disk/)
    expect(r.stderr).not.toMatch(noStack)
    const again = await petal(['--dir', dir, '--json', 'import', '--from', full])
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout)).toMatchObject({ tip: { height: 3 } })
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
  }, 120_000)

  it.each([['once', false], ['from then on', true]])('blocks: a read of chain.db the disk failed %s is never INDEX_CORRUPT "rebuild it"', async (_, sticky) => {
    const { full } = await pair()
    const codes = new Set<string>()
    let nth = 1
    // Each of SQLite's reads of chain.db in turn, until the command makes fewer reads than nth.
    for (; nth <= 60; nth++) {
      // A disk that keeps failing fails node:fs's reads too (SQLite's alone are counted otherwise).
      const f = faultEnv({ dir: full, ops: ['read'], nth, sticky, match: '/chain.db', caller: sticky ? undefined : 'better_sqlite3.node' })
      const r = await petal(['--dir', full, 'blocks'], f.env)
      if (faultResult(f).injected === 0) break
      expect(r.stderr, `read #${nth}`).not.toMatch(noStack)
      const code = /\[([A-Z_]+)\]\n/.exec(r.stderr)?.[1]
      if (r.code !== 0) codes.add(`${code ?? r.stderr} (read #${nth})`)
    }
    expect(nth).toBeGreaterThan(5)
    // Before: one of them was INDEX_CORRUPT, "rebuild it from the block files with `petal reindex`".
    expect([...codes].filter(c => !c.startsWith('IO_ERROR ')), [...codes].join(', ')).toEqual([])
  }, 300_000)

  it('init whose fsyncs of chain.db fail from its third on (a hot chain.db-journal left): init run again makes the chain, not DATA_DIR_NOT_EMPTY', async () => {
    const dir = join(tmpDir(), 'data')
    mkdirSync(dir)
    const f = faultEnv({ dir, ops: ['fsync'], nth: 3, sticky: true, errno: 'ENOSPC', match: '/chain.db' })
    const r = await petal(['--dir', dir, 'init'], f.env)
    expect(faultResult(f).injected).toBeGreaterThan(0)
    expect(r.code, r.stderr).toBe(4)
    expect(existsSync(join(dir, 'chain.db-journal'))).toBe(true)
    // Before: "is not empty (chain.db-journal) [DATA_DIR_NOT_EMPTY]" (torture, adopt lane, seed 35 #7).
    const again = await petal(['--dir', dir, 'init'])
    expect(again.code, again.stderr).toBe(0)
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
  }, 120_000)

  it('signimportblock: chain.db-wal the disk refuses to open for writing (ENOSPC) is IO_ERROR, not PERMISSION_DENIED', async () => {
    const { full } = await pair()
    const f = faultEnv({ dir: full, ops: ['open'], nth: 1, sticky: true, errno: 'ENOSPC', match: '/chain.db-wal' })
    const block = makeSqlite(join(tmpDir(), 's4.db'), 50, 4)
    const r = await petal(['--dir', full, 'signimportblock', block], f.env)
    expect(faultResult(f).injected).toBeGreaterThan(0)
    // Before: "attempt to write a readonly database [PERMISSION_DENIED]" (torture seed 35, import #5).
    expect(r.code, r.stderr).toBe(4)
    expect(r.stderr).toMatch(/the disk refused to open .*chain\.db-wal for writing, though this user may write it: .* \[IO_ERROR\]\n {2}hint: free space/)
    // Space freed (no fault): the same command goes through.
    expect((await petal(['--dir', full, 'signimportblock', block])).code).toBe(0)
  }, 120_000)

  it('query: a read of query.db-wal that fails says to check the disk, not permissions', async () => {
    const { full } = await pair()
    const f = faultEnv({ dir: full, ops: ['read'], nth: 1, match: '/query.db-wal', caller: 'better_sqlite3.node' })
    const r = await petal(['--dir', full, 'query', 'SELECT count(*) AS n FROM t'], f.env)
    expect(faultResult(f).injected).toBe(1)
    expect(r.code, r.stderr).toBe(8)
    expect(r.stderr).toContain('[MIRROR_UNAVAILABLE]\n  hint: check the disk')
    expect(r.stderr).not.toContain('check permissions')
    expect((await petal(['--dir', full, '--json', 'query', 'SELECT count(*) AS n FROM t'])).stdout).toBe('{"n":600}\n')
  }, 120_000)

  it('serve: GET a block\'s rows when a read of its file failed once is 503 IO_ERROR, not 500 API_INTERNAL "this is a bug"', async () => {
    const { full } = await pair()
    // SQLite's reads 1–5 of the file open it and check its _meta; the 6th reads the table's rows.
    const f = faultEnv({ dir: full, ops: ['read'], nth: 6, match: '/0000/block_00000002.db', caller: 'better_sqlite3.node' })
    const p = spawn(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'petal.js'), '--dir', full, 'serve', '--http', '127.0.0.1:0'], { env: { ...process.env, ...f.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    try {
      const url = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out)?.[1], { timeout: 30_000, what: 'the server\'s URL' })
      const r = await fetch(url + 'api/v1/blocks/2/tables/t/rows?limit=2')
      const body = await r.json() as { error: { code: string, message: string, hint: string } }
      expect(faultResult(f).injected).toBe(1)
      expect({ status: r.status, code: body.error.code }).toEqual({ status: 503, code: 'IO_ERROR' })
      expect(body.error.message).toContain('a read the disk failed once')
      expect(body.error.hint).toMatch(/^check the disk/)
      const again = await fetch(url + 'api/v1/blocks/2/tables/t/rows?limit=2')
      expect(again.status).toBe(200)
    } finally {
      p.kill('SIGTERM')
      await new Promise(resolve => p.on('close', resolve))
    }
  }, 120_000)

  it('adopt-daisy: daisy.db the disk cannot read is IO_ERROR, not DAISY_DB_INVALID "restore it from a backup"; the failed adoption leaves no daisy/ behind', async () => {
    const daisy = buildDaisyDir(join(tmpDir(), 'daisy'))
    const dir = join(tmpDir(), 'adopted')
    expect((await petal(['--dir', dir, 'keys', 'import', join(daisy.root, 'private.db')])).code).toBe(0)
    // The check of the copy opens daisy/daisy.db: every read of it by SQLite fails.
    const f = faultEnv({ dir, ops: ['read'], nth: 1, sticky: true, match: '/daisy/daisy.db', caller: 'better_sqlite3.node' })
    const r = await petal(['--dir', dir, 'adopt-daisy', daisy.root], f.env)
    expect(faultResult(f).injected).toBeGreaterThan(0)
    expect(r.code, r.stderr).toBe(4)
    expect(r.stderr).toMatch(/\[IO_ERROR\]\n {2}hint: check the disk/)
    expect(r.stderr).not.toContain('DAISY_DB_INVALID')
    // Before: daisy/ (the copy of the history) and daisy-state/ stayed.
    expect(readdirSync(dir).filter(n => n.startsWith('daisy'))).toEqual([])
    const again = await petal(['--dir', dir, 'adopt-daisy', daisy.root])
    expect(again.code, again.stderr).toBe(0)
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
  }, 180_000)

  it('init where an adoption was killed before its genesis: the copy of the Daisy history is removed, not kept beside a chain it does not continue', async () => {
    const dir = join(tmpDir(), 'data')
    // What a kill -9 of adopt-daisy after its copy leaves: daisy/ and daisy-state/, no chainparams.json.
    mkdirSync(join(dir, 'daisy', 'blocks', '0000'), { recursive: true })
    writeFileSync(join(dir, 'daisy', 'daisy.db'), 'a copy')
    mkdirSync(join(dir, 'daisy-state'))
    const r = await petal(['--dir', dir, 'init'])
    expect(r.code, r.stderr).toBe(0)
    expect(existsSync(join(dir, 'daisy'))).toBe(false)
    expect(existsSync(join(dir, 'daisy-state'))).toBe(false)
    rmSync(dir, { recursive: true, force: true })
  }, 60_000)
})
