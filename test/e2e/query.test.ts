import Database from 'better-sqlite3'
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Chain, signImport } from '../../src/chain/index.js'
import { QuerySandbox } from '../../src/query/index.js'
import { Keystore } from '../../src/storage/index.js'
import { petalInProcess } from '../helpers/cli.js'
import { assertMirrorMatchesFiles, rowsOf, sqliteFile } from '../helpers/query.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const ROOT = join(import.meta.dirname, '..', '..')
const BIN = join(ROOT, 'bin', 'petal.js')

interface Run { status: number | null, stdout: string, stderr: string }

function petal (dir: string, ...args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, '--dir', dir, ...args], { encoding: 'utf8', env: { ...process.env, PETAL_PASSPHRASE: '' } })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('petal query (CLI)', () => {
  let dir: string
  let work: string

  beforeAll(async () => {
    work = tmpDir()
    dir = join(work, 'data')
    // init in this process (a set-up); the imports run as processes: the first test checks that they updated the mirror.
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    for (let i = 1; i <= 2; i++) {
      const f = sqliteFile(join(work, `in${i}.db`), db => {
        db.exec('CREATE TABLE t (k TEXT, v INTEGER, b BLOB)')
        db.prepare('INSERT INTO t VALUES (?, ?, ?), (?, ?, ?)').run(`k${i}`, i, Buffer.from([i]), null, 9007199254740993n * BigInt(i), null)
      })
      expect(petal(dir, 'signimportblock', f).status).toBe(0)
    }
  }, 60_000)

  it('answers one statement over the whole chain as NDJSON; the mirror was updated by signimportblock', () => {
    expect(existsSync(join(dir, 'query.db'))).toBe(true)
    const before = petal(dir, 'query', '--no-sync', 'SELECT count(*) AS n FROM _blocks')
    expect(before.stdout).toBe('{"n":3}\n')
    const r = petal(dir, 'query', 'SELECT _height, k, v, b FROM t ORDER BY _height, rowid')
    expect(r.status).toBe(0)
    expect(r.stdout.split('\n')).toEqual([
      '{"_height":1,"k":"k1","v":1,"b":{"$base64":"AQ=="}}',
      '{"_height":1,"k":null,"v":9007199254740993,"b":null}',
      '{"_height":2,"k":"k2","v":2,"b":{"$base64":"Ag=="}}',
      '{"_height":2,"k":null,"v":18014398509481986,"b":null}',
      ''
    ])
  })

  it('prints csv, json and table', () => {
    expect(petal(dir, 'query', '-f', 'csv', 'SELECT k, count(*) AS n FROM t GROUP BY k ORDER BY k').stdout).toBe('k,n\r\n,2\r\nk1,1\r\nk2,1\r\n')
    const doc = JSON.parse(petal(dir, 'query', '--format', 'json', 'SELECT max(v) AS m FROM t').stdout) as { columns: string[], rows: unknown[][], tip: { height: number } }
    expect(doc.columns).toEqual(['m'])
    expect(doc.tip.height).toBe(2)
    expect(petal(dir, 'query', '-f', 'table', 'SELECT height FROM _blocks ORDER BY height').stdout).toBe('height\n------\n     0\n     1\n     2\n(3 rows)\n')
  })

  it('runs per block, genesis included, with _height on every row', () => {
    const r = petal(dir, 'query', '--per-block', 'SELECT count(*) AS n FROM _keys')
    expect(r.stdout).toBe('{"_height":0,"n":1}\n{"_height":1,"n":0}\n{"_height":2,"n":0}\n')
    expect(petal(dir, 'query', '--per-block', 'SELECT count(*) AS n FROM t').stdout).toBe('{"_height":1,"n":2}\n{"_height":2,"n":2}\n')
  })

  it('reports errors with SQLite\'s message, a code and exit status 8', () => {
    const cases: Array<[string[], string, string]> = [
      [['SELECT * FROM'], 'QUERY_SYNTAX', 'incomplete input'],
      [['SELECT * FROM nowhere'], 'QUERY_UNKNOWN_TABLE', 'no such table: nowhere'],
      [["ATTACH 'x.db' AS x"], 'QUERY_ATTACH_REFUSED', 'ATTACH'],
      [['DELETE FROM t'], 'QUERY_NOT_READONLY', 'read-only'],
      [['--timeout', '0.3', 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c'], 'QUERY_TIMEOUT', 'time limit of 0.3 s'],
      [['--per-block', 'SELECT nope FROM t'], 'QUERY_UNKNOWN_COLUMN', 'no such column: nope'],
      [['--max-rows', '1', 'SELECT * FROM t'], 'QUERY_TOO_MANY_ROWS', 'more than 1 rows']
    ]
    for (const [args, code, text] of cases) {
      const r = petal(dir, 'query', ...args)
      expect(r.status, args.join(' ')).toBe(8)
      expect(r.stderr).toContain(`[${code}]`)
      expect(r.stderr).toContain(text)
    }
    expect(petal(dir, 'query', '--format', 'xml', 'SELECT 1').status).toBe(2)
    expect(petal(dir, 'query', '--from', '1', 'SELECT 1').status).toBe(2)
  })

  it('an export to a file that fails leaves no temporary file, also when it fails before the file is open', () => {
    // The temporary is opened on the thread pool; a preload holds that open 1.5 s, so the
    // failure (an unknown table) comes first. The open then created the file after its removal.
    const out = join(tmpDir('petal-export-'), 'out.csv')
    const preload = join(work, 'slow-open.cjs')
    writeFileSync(preload, `const fs = require('node:fs'); const open = fs.open
      fs.open = function (path, ...rest) {
        if (!String(path).endsWith('.tmp')) return open.call(fs, path, ...rest)
        setTimeout(() => { open.call(fs, path, ...rest) }, 1500)
      }\n`)
    const r = spawnSync(process.execPath, ['--require', preload, BIN, '--dir', dir, 'export', 'nowhere', '-o', out], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(8)
    expect(r.stderr).toContain('[QUERY_UNKNOWN_TABLE]')
    expect(readdirSync(join(out, '..'))).toEqual([])
  })

  it('an export to a file in a directory that does not exist is a usage error, not a crash (CSV and SQLite)', () => {
    const missing = join(tmpDir('petal-export-'), 'no', 'such')
    for (const out of [join(missing, 'out.csv'), join(missing, 'out.db')]) {
      const r = petal(dir, 'export', 't', '-o', out)
      expect(r.status, r.stderr).toBe(2)
      expect(r.stderr).toContain(`cannot write ${out}`)
      expect(r.stderr).toContain('[USAGE]')
      expect(r.stderr).not.toContain('internal error')
    }
  })

  it('an export never replaces a file made at -o while it ran (CSV and SQLite); the temporary goes', async () => {
    // Held (PETAL_PAUSE) with the export written under its temporary name, after the check that
    // -o does not exist: someone else's file appears there. A rename put the export over it.
    for (const name of ['out.csv', 'out.db']) {
      const where = tmpDir('petal-export-')
      const out = join(where, name)
      const pause = join(work, `pause-${name}`)
      const child = spawn(process.execPath, [BIN, '--dir', dir, 'export', 't', '-o', out], { env: { ...process.env, PETAL_PAUSE: 'export:written', PETAL_PAUSE_FILE: pause }, stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      const status = new Promise<number | null>(resolve => { child.on('close', code => { resolve(code) }) })
      await waitFor(() => existsSync(pause), { what: 'the export to be written' })
      writeFileSync(out, 'theirs')
      rmSync(pause)
      expect(await status, stderr).toBe(2)
      expect(stderr).toContain(`${out} already exists (made while the export ran; the export was not written) [USAGE]`)
      expect(stderr).toContain('hint: choose a new file name, or remove the old file first')
      expect(readFileSync(out, 'utf8')).toBe('theirs')
      expect(readdirSync(where)).toEqual([name])
    }
  })

  it('refuses -o naming a link to nowhere before exporting, not as a file made while it ran', async () => {
    // existsSync follows the link: the export ran in full, then the hard link into place met the
    // link (EEXIST) and the error said the file had been made meanwhile, which it had not.
    const where = tmpDir('petal-export-')
    const out = join(where, 'out.csv')
    symlinkSync(join(where, 'nowhere'), out)
    const r = spawnSync(process.execPath, [BIN, '--dir', dir, 'export', 't', '-o', out], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(2)
    expect(r.stderr).toContain(`${out} already exists [USAGE]`)
    expect(readdirSync(where)).toEqual(['out.csv'])
  })

  it('stops quietly when the reader goes away (petal query … | head -1)', async () => {
    const child = spawn(process.execPath, [BIN, '--dir', dir, 'query', 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) SELECT x FROM c'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.on('data', (b: Buffer) => { err += b.toString() })
    const first = await new Promise<string>(resolve => { child.stdout.once('data', (b: Buffer) => { resolve(b.toString().split('\n')[0] as string) }) })
    child.stdout.destroy()
    const status = await new Promise<number | null>(resolve => child.once('exit', resolve))
    expect(first).toBe('{"x":1}')
    expect(status).toBe(141)
    expect(err).not.toContain('EPIPE')
  })

  it('rebuilds the mirror with reindex --query', () => {
    const q = 'SELECT _height, k, v FROM t ORDER BY _height, rowid'
    const before = petal(dir, 'query', q).stdout
    const r = petal(dir, 'reindex', '--query')
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('rebuilt the query mirror from 3 blocks')
    expect(petal(dir, 'query', '--no-sync', q).stdout).toBe(before)
  })

  it('stays consistent while another process imports blocks (and syncs the mirror too)', async () => {
    const BLOCKS = 60
    const ROWS = 300
    const source = join(work, 'source')
    cpSync(dir, source, { recursive: true })
    const src = Chain.open(source)
    const signer = new Keystore(src.dir.keystore).load()
    for (let i = 0; i < BLOCKS; i++) {
      await signImport(src, sqliteFile(join(work, `c${i}.db`), db => {
        db.exec(`CREATE TABLE t (k TEXT, v INTEGER); WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ${ROWS}) INSERT INTO t SELECT 'c${i}-' || x, x FROM n`)
      }), signer)
    }
    src.close()

    const chain = Chain.open(dir)
    const sandbox = new QuerySandbox(dir)
    await rowsOf(chain, sandbox, 'SELECT 1') // a warm sandbox, so that queries interleave with the import
    const importer = spawn(process.execPath, [BIN, '--dir', dir, 'import', '--from', source], { stdio: 'ignore' })
    const exited = new Promise<number | null>(resolve => importer.once('exit', resolve))
    let running = true
    void exited.then(() => { running = false })
    const seen: bigint[][] = []
    try {
      do {
        const r = await rowsOf(chain, sandbox, "SELECT (SELECT max(height) FROM _blocks), (SELECT count(*) FROM t), (SELECT total(rows) FROM _tables WHERE name = 't'), (SELECT hash FROM _blocks ORDER BY height DESC LIMIT 1)")
        const [height, rows, catalog, hash] = r.rows[0] as [bigint, bigint, number, string]
        expect(Number(rows), `rows and catalog agree at height ${height}`).toBe(catalog)
        expect(chain.get(hash)?.height, 'the mirror tip is a block of the chain').toBe(Number(height))
        seen.push([height, rows])
      } while (running)
      expect(await exited).toBe(0)
      const last = await rowsOf(chain, sandbox, 'SELECT max(height), (SELECT count(*) FROM t) FROM _blocks')
      expect(last.rows).toEqual([[BigInt(BLOCKS + 2), BigInt(BLOCKS * ROWS + 4)]])
      expect(seen.length).toBeGreaterThan(0)
      assertMirrorMatchesFiles(chain)
    } finally {
      await sandbox.close()
      chain.close()
    }
  }, 120_000)

  // A reader who cannot write the directory (an archive, another user's node). As root, run the
  // CLI as `nobody`; otherwise take the write bits away (root would ignore them).
  const asRoot = process.getuid?.() === 0
  const nobodyCanRun = !asRoot || spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, BIN, '--version']).status === 0
  it.skipIf(!nobodyCanRun)('reads a data directory this user cannot write; commands that write say why they cannot', () => {
    const base = mkdtempSync(join(tmpdir(), 'petal-ro-'))
    try {
      const ro = join(base, 'data')
      // The mirror brought to the tip first: the copy must not catch it between two updates.
      expect(petal(dir, 'query', 'SELECT count(*) FROM t').status).toBe(0)
      cpSync(dir, ro, { recursive: true })
      // The copy's WALs go into their databases, then the files go: a reader who cannot write
      // cannot make a -shm. (A query's sandbox process may still hold query.db for a moment after
      // the CLI exits, so its -wal can hold the mirror's last commits: dropping it lost them.)
      for (const f of readdirSync(ro).filter(f => f.endsWith('-shm'))) rmSync(join(ro, f))
      for (const f of readdirSync(ro).filter(f => f.endsWith('-wal'))) {
        const db = new Database(join(ro, f.slice(0, -'-wal'.length)))
        db.pragma('wal_checkpoint(TRUNCATE)')
        db.close()
      }
      for (const f of readdirSync(ro).filter(f => /-(wal|shm)$/.test(f))) rmSync(join(ro, f))
      const input = sqliteFile(join(base, 'more.db'), db => { db.exec("CREATE TABLE t (k TEXT); INSERT INTO t VALUES ('late')") })
      spawnSync('chmod', ['-R', asRoot ? 'a+rX,go-w' : 'a-w', base])
      const run = (...args: string[]): Run => {
        const cmd = asRoot ? ['runuser', '-u', 'nobody', '--', process.execPath] : [process.execPath]
        const r = spawnSync(cmd[0] as string, [...cmd.slice(1), BIN, '--dir', ro, ...args], { encoding: 'utf8' })
        return { status: r.status, stdout: r.stdout, stderr: r.stderr }
      }
      for (const args of [['query', 'SELECT count(*) AS n, sum(v) FROM t'], ['query', '--per-block', 'SELECT count(*) AS n FROM t']]) {
        const want = petal(dir, ...args)
        expect(want.status).toBe(0)
        expect(run(...args), args.join(' ')).toMatchObject({ status: 0, stdout: want.stdout })
      }
      for (const args of [['status'], ['blocks'], ['block', '1'], ['signers'], ['verify']]) expect(run(...args).status, args.join(' ')).toBe(0)
      const w = run('signimportblock', input)
      expect(w.status).toBe(4)
      expect(w.stderr).toContain('[DATA_DIR_READONLY]')
      expect(w.stderr).toMatch(/hint: .*user who can write/)
    } finally {
      spawnSync('chmod', ['-R', 'u+w', base])
      rmSync(base, { recursive: true, force: true })
    }
  })
})
