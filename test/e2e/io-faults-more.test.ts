import { spawn } from 'node:child_process'
import { cpSync, linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { makeSqlite } from '../helpers/chain.js'
import { copiesOf } from '../helpers/copies.js'
import { buildDaisyDir } from '../helpers/daisy.js'
import { faultedNode } from '../helpers/faulted-node.js'
import { armFault, faultEnv, faultResult, faultShim } from '../helpers/fault-shim.js'
import { stopAll } from '../helpers/network.js'
import { petal } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { petalInProcess } from '../helpers/cli.js'

// More paths under the I/O fault shim (test/helpers/fault-shim.c), session 34 (mend34): reads that
// fail (its `read` class), adopt-daisy, the Fastify records route, an -o file written in place.
afterAll(stopAll)
const withCc = faultShim() !== undefined

/** A chain of three blocks of rows above its genesis: made once for the file by the CLI in this process, a copy for each test. */
const chainOf3 = copiesOf(async dir => {
  expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
  for (let i = 1; i <= 3; i++) expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), `s${i}.db`), 200, i)])).code).toBe(0)
})

const block2 = (dir: string): string => join(dir, '0000', 'block_00000002.db')

describe.runIf(withCc)('I/O faults: reads, adopt-daisy, the Fastify records route, -o in place', () => {
  it('verify: a block file the disk cannot read is IO_ERROR (exit 4) with a hint that works, not VERIFY_FAILED "fetch the damaged file again"', async () => {
    const dir = await chainOf3()
    const copy = join(tmpDir(), 'copy')
    cpSync(dir, copy, { recursive: true })
    const f = faultEnv({ dir, ops: ['read'], nth: 1, sticky: true, match: '/0000/block_00000002.db' })
    const r = await petal(['--dir', dir, 'verify'], f.env)
    expect(faultResult(f).injected).toBeGreaterThan(0)
    // Before: exit 6 VERIFY_FAILED, hint `verify --repair`, which failed on the same read.
    expect(r.code, r.stderr).toBe(4)
    expect(r.stderr).toMatch(/cannot read the block file at height 2: .*EIO.* \[IO_ERROR\]/)
    const mv = /`(mv [^`]+)`/.exec(r.stderr)?.[1]
    expect(mv).toBe(`mv ${block2(dir)} ${block2(dir)}.unreadable`)
    // The hint, as printed: the file moved aside is fetched again by verify --repair.
    const moved = spawn('sh', ['-c', mv ?? 'false'])
    expect(await new Promise(resolve => moved.on('close', resolve))).toBe(0)
    const repaired = await petal(['--dir', dir, 'verify', '--repair', '--from', copy])
    expect(repaired.code, repaired.stderr).toBe(0)
    expect(readFileSync(block2(dir))).toEqual(readFileSync(block2(copy)))
  }, 120_000)

  it('query: a mirror stopped by a failed read says so (EIO), not "missing or damaged"; the next query catches up', async () => {
    const dir = await chainOf3()
    // The imports brought the mirror up to date: built again from the blocks by this query.
    for (const n of ['query.db', 'query.db-wal', 'query.db-shm']) rmSync(join(dir, n), { force: true })
    const f = faultEnv({ dir, ops: ['read'], nth: 1, sticky: true, match: '/0000/block_00000002.db' })
    const r = await petal(['--dir', dir, '--json', 'query', 'SELECT count(*) AS n FROM t'], f.env)
    expect(faultResult(f).injected).toBeGreaterThan(0)
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ n: 200 })
    expect(r.stderr).toContain('the file of block 2 could not be read (EIO); this result covers heights 0 to 1')
    expect(r.stderr).not.toContain('missing or damaged')
    const again = await petal(['--dir', dir, '--json', 'query', 'SELECT count(*) AS n FROM t'])
    expect(JSON.parse(again.stdout)).toEqual({ n: 600 })
  }, 120_000)

  it('GET /blocks/{ref}/file of a block the disk cannot read: 503 IO_ERROR, not BLOCK_FILE_MISSING; the server goes on', async () => {
    const dir = await chainOf3()
    const f = faultEnv({ dir, ops: ['read'], nth: 1, sticky: true, match: '/0000/block_00000002.db' })
    const p = spawn(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'petal.js'), '--dir', dir, 'serve', '--http', '127.0.0.1:0'], { env: { ...process.env, ...f.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    try {
      const url = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out)?.[1], { timeout: 30_000, what: 'the server\'s URL' })
      const r = await fetch(url + 'api/v1/blocks/2/file')
      const body = await r.json() as { error: { code: string, hint: string } }
      expect(faultResult(f).injected).toBeGreaterThan(0)
      expect({ status: r.status, code: body.error.code }).toEqual({ status: 503, code: 'IO_ERROR' })
      expect(body.error.hint).toMatch(/check the disk/)
      const ok = await fetch(url + 'api/v1/blocks/1/file')
      expect(ok.status).toBe(200)
      expect(Buffer.from(await ok.arrayBuffer())).toEqual(readFileSync(join(dir, '0000', 'block_00000001.db')))
    } finally {
      p.kill('SIGTERM')
      await new Promise(resolve => p.on('close', resolve))
    }
  }, 120_000)

  it('adopt-daisy: a failed write, fsync or rename in the new directory is IO_ERROR or DISK_FULL, and adopting again makes the chain', async () => {
    const daisy = buildDaisyDir(join(tmpDir(), 'daisy'))
    for (const [op, nth] of [['rename', 2], ['fsync', 2], ['write', 40]] as const) {
      const dir = join(tmpDir(), `adopted-${op}`)
      expect((await petal(['--dir', dir, 'keys', 'import', join(daisy.root, 'private.db')])).code).toBe(0)
      const f = faultEnv({ dir, ops: [op], nth, errno: 'ENOSPC', match: '/daisy' })
      const r = await petal(['--dir', dir, 'adopt-daisy', daisy.root], f.env)
      expect(faultResult(f).injected, op).toBe(1)
      expect({ op, code: r.code }, r.stderr).toEqual({ op, code: 4 })
      expect(r.stderr).toMatch(/\[(DISK_FULL|IO_ERROR)\]\n {2}hint: /)
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/)
      const again = await petal(['--dir', dir, '--json', 'adopt-daisy', daisy.root])
      expect(again.code, again.stderr).toBe(0)
      expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
    }
  }, 180_000)

  it('adopt-daisy: a copied block SQLite cannot read (EIO, which SQLite reports as a malformed file) is IO_ERROR, not DAISY_BLOCK_INVALID "restore from a backup"', async () => {
    const daisy = buildDaisyDir(join(tmpDir(), 'daisy'))
    const dir = join(tmpDir(), 'adopted')
    expect((await petal(['--dir', dir, 'keys', 'import', join(daisy.root, 'private.db')])).code).toBe(0)
    // Reads 1–3 of the copy of block 0 are node:fs's (hashing) and SQLite's header; from the 5th
    // on, SQLite's reads of its pages fail (found by the torture's adopt lane, seed 4).
    const f = faultEnv({ dir, ops: ['read'], nth: 5, sticky: true, match: '/daisy/blocks/0000/block_00000000.db' })
    const r = await petal(['--dir', dir, 'adopt-daisy', daisy.root], f.env)
    expect(faultResult(f).log[0]).toMatch(/ pread 5 better_sqlite3\.node /)
    expect(r.code, r.stderr).toBe(4)
    expect(r.stderr).toMatch(/EIO: i\/o error, read '.*block_00000000\.db' \[IO_ERROR\]/)
    expect(r.stderr).not.toContain('DAISY_BLOCK_INVALID')
    expect((await petal(['--dir', dir, 'adopt-daisy', daisy.root])).code).toBe(0)
  }, 120_000)

  it('POST /records through Fastify (a content type the lean lane leaves to it) on a full disk: 503 DISK_FULL, and the node goes on', async () => {
    const { node, fault: f, url, token } = await faultedNode({ ops: ['write'], nth: 1, sticky: true, errno: 'ENOSPC', match: '/pending.db', armed: false })
    try {
      // `charset=UTF-8` (upper case) is not one of the lean lane's exact spellings.
      const post = async (): Promise<Response> => await fetch(url + 'api/v1/records/kept', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv; charset=UTF-8' }, body: 'a,b\n1,x\n2,y\n' })
      expect((await post()).status).toBe(202)
      armFault(f)
      const r = await post()
      const body = await r.json() as { error: { code: string, hint?: string } }
      expect(faultResult(f).injected).toBeGreaterThan(0)
      expect({ status: r.status, code: body.error.code }).toEqual({ status: 503, code: 'DISK_FULL' })
      expect(body.error.hint).toMatch(/free space/)
      expect((await fetch(url + 'api/v1/status')).status).toBe(200)
    } finally { await node.stop() }
  }, 60_000)

  it('-o FILE written in place on a disk that fails every write: the error says FILE is damaged and to restore it from a backup', async () => {
    const dir = await chainOf3()
    expect((await petal(['--dir', dir, 'checkpoint', '--sign'])).code).toBe(0)
    const outDir = tmpDir()
    const note = join(outDir, 'note.txt')
    writeFileSync(note, 'the old note\n')
    // Another hard link: written in place, so that both names see the new note.
    linkSync(note, join(outDir, 'note-link.txt'))
    const f = faultEnv({ dir: outDir, ops: ['write'], nth: 1, sticky: true, match: '/note' })
    const r = await petal(['--dir', dir, 'checkpoint', '-o', note], f.env)
    expect(faultResult(f).injected).toBeGreaterThan(1)
    expect(r.code, r.stderr).toBe(2)
    // Before: "cannot write …: EIO: i/o error, write", the hint "choose a path in a directory you can write".
    expect(r.stderr).toContain(`${note}, written in place (it has other hard links, or could not be replaced by a new file), is now empty, and its old content could not be put back (putting it back failed too: EIO)`)
    expect(r.stderr).toContain(`hint: ${note} is damaged under every name it has: restore it from a backup`)
  }, 120_000)
})
