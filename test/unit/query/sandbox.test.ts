import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signImport, type Chain } from '../../../src/chain/index.js'
import { QueryMirror, QuerySandbox } from '../../../src/query/index.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { dumpMirror, failure, rowsOf, sqliteFile, textOf } from '../../helpers/query.js'
import { holdsMirror, sandboxParentArgs } from '../../helpers/sandbox-proc.js'
import { tmpDir } from '../../helpers/tmp.js'
import { importCheckBlock } from '../../helpers/check-block.js'
import { waitFor } from '../../helpers/wait.js'

const HOSTILE_TABLE = 'x"; DROP TABLE _blocks; --'
const HOSTILE_COLUMN = 'a"); ATTACH \'evil.db\' AS e; --'
const qi = (s: string): string => '"' + s.replaceAll('"', '""') + '"'
const INFINITE = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c'

/**
 * A block whose schema tries to smuggle SQL: names built to close quotes and run statements,
 * DEFAULTs calling load_extension and allocating 1 GB (written through writable_schema, as an
 * attacker would, since SQLite refuses them in CREATE TABLE), a declared type that is SQL text,
 * rows stored before those columns existed (so reading them would need the DEFAULTs), and an
 * expression index.
 */
function hostileFile (path: string): string {
  return sqliteFile(path, db => {
    db.exec(`CREATE TABLE ${qi(HOSTILE_TABLE)} (${qi(HOSTILE_COLUMN)} TEXT, c INT CHECK (c > 0), d "INT) ; DROP TABLE t; --")`)
    db.prepare(`INSERT INTO ${qi(HOSTILE_TABLE)} VALUES (?, ?, ?)`).run('v1', 1, 2)
    db.exec(`CREATE INDEX ${qi('i"x')} ON ${qi(HOSTILE_TABLE)} (lower(${qi(HOSTILE_COLUMN)}))`)
    db.unsafeMode(true)
    db.pragma('writable_schema = ON')
    const sql = db.prepare('SELECT sql FROM sqlite_schema WHERE name = ?').pluck().get(HOSTILE_TABLE) as string
    const evil = sql.replace(/\)$/, ", b TEXT DEFAULT (load_extension('./evil-default.so')), e DEFAULT (randomblob(1000000000)))")
    db.prepare('UPDATE sqlite_schema SET sql = ? WHERE name = ?').run(evil, HOSTILE_TABLE)
    db.pragma('writable_schema = OFF')
  })
}

describe('query sandbox', () => {
  let chain: Chain
  let sandbox: QuerySandbox
  let before: unknown[]

  beforeAll(async () => {
    const key = fixtureKey('bob')
    ;({ chain } = await newTestChain({ key }))
    const work = tmpDir()
    for (let i = 0; i < 3; i++) {
      await signImport(chain, sqliteFile(join(work, `t${i}.db`), db => { db.exec(`CREATE TABLE t (k TEXT, v INT); INSERT INTO t VALUES ('k${i}', ${i}), (NULL, NULL)`) }), key)
    }
    await signImport(chain, hostileFile(join(work, 'hostile.db')), key)
    await importCheckBlock(chain, key, work)
    sandbox = new QuerySandbox(chain.dir.root)
    const m = QueryMirror.open(chain)
    await m.sync()
    m.close()
    before = dumpMirror(chain.dir.queryDb)
  }, 60_000)

  afterAll(async () => {
    await sandbox?.close()
    chain?.close()
  })

  const code = async (sql: string, perBlock = false): Promise<string | undefined> => (await failure(rowsOf(chain, sandbox, sql, { perBlock, timeoutMs: 20_000 }))).code

  it('refuses statements that write, in both modes, and nothing changes', async () => {
    for (const sql of ["INSERT INTO t VALUES ('x', 1)", 'UPDATE t SET v = 0', 'DELETE FROM t', 'DROP TABLE t', 'CREATE TABLE z (a)', 'CREATE TEMP TABLE z (a)',
      'ALTER TABLE t ADD COLUMN w', "REPLACE INTO _blocks (height) VALUES (99)", `VACUUM INTO '${join(tmpDir(), 'copy.db')}'`, 'ANALYZE', 'REINDEX']) {
      expect(await code(sql), sql).toBe('QUERY_NOT_READONLY')
      expect(await code(sql, true), `${sql} --per-block`).toBe('QUERY_NOT_READONLY')
    }
    for (const sql of ['BEGIN', 'SAVEPOINT a', 'ROLLBACK']) expect(await code(sql), sql).toBe('QUERY_NOT_A_QUERY')
    expect(await code('SELECT 1; DROP TABLE t')).toBe('QUERY_MULTIPLE_STATEMENTS')
    expect(dumpMirror(chain.dir.queryDb)).toEqual(before)
  })

  it('refuses ATTACH and DETACH', async () => {
    const target = join(tmpDir(), 'attached.db')
    for (const sql of [`ATTACH '${target}' AS x`, `attach database '${target}' as x`, 'DETACH main']) {
      expect(await code(sql), sql).toBe('QUERY_ATTACH_REFUSED')
      expect(await code(sql, true), sql).toBe('QUERY_ATTACH_REFUSED')
    }
    expect(existsSync(target)).toBe(false)
  })

  it('refuses PRAGMAs that change anything, allows read-only ones', async () => {
    for (const sql of ['PRAGMA query_only = OFF', 'PRAGMA trusted_schema = ON', 'PRAGMA writable_schema = 1', 'PRAGMA journal_mode = DELETE', 'PRAGMA cache_size(1)', 'PRAGMA optimize', 'PRAGMA user_version = 7']) {
      expect(await code(sql), sql).toBe('QUERY_PRAGMA_REFUSED')
      expect(await code(sql, true), sql).toBe('QUERY_PRAGMA_REFUSED')
    }
    expect((await rowsOf(chain, sandbox, 'PRAGMA table_info(t)')).rows.map(r => r[1])).toEqual(['_height', 'k', 'v'])
    expect((await rowsOf(chain, sandbox, 'PRAGMA query_only')).rows).toEqual([[1n]])
  })

  it('refuses extension loading', async () => {
    for (const sql of ["SELECT load_extension('/tmp/evil.so')", "SELECT LOAD_EXTENSION('/tmp/evil.so', 'init')", "SELECT * FROM t WHERE \"load_extension\"('x') IS NULL"]) {
      expect(await code(sql), sql).toBe('QUERY_EXTENSION_REFUSED')
      expect(await code(sql, true), sql).toBe('QUERY_EXTENSION_REFUSED')
    }
  })

  it('stops a recursive CTE that never ends, then runs the next statement', async () => {
    for (const perBlock of [false, true]) {
      const e = await failure(rowsOf(chain, sandbox, INFINITE, { perBlock, timeoutMs: 400 }))
      expect(e.code).toBe('QUERY_TIMEOUT')
      expect(e.message).toContain('time limit')
    }
    expect((await rowsOf(chain, sandbox, 'SELECT count(*) FROM t')).rows).toEqual([[6n]])
  })

  // Linux: /proc shows the flags of the sandbox's descriptor 2. Node makes a pipe's descriptor
  // non-blocking when it creates process.stderr for it; the first statement's watchdog thread must
  // not make the sandbox create it (and load net) on that statement's path (docs/performance/query.md,
  // "Session 11: `petal query`").
  it.runIf(process.platform === 'linux')('runs a statement without creating the sandbox process\'s stderr stream', async () => {
    const fresh = new QuerySandbox(chain.dir.root, { parentDeath: 'watchdog' })
    try {
      expect((await rowsOf(chain, fresh, 'SELECT count(*) FROM t')).rows).toEqual([[6n]])
      const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/${String(fresh.pid)}/fdinfo/2`, 'utf8'))?.[1]
      expect(flags).toBeDefined()
      const O_NONBLOCK = 0o4000
      expect(parseInt(flags ?? '0', 8) & O_NONBLOCK).toBe(0)
    } finally {
      await fresh.close()
    }
  })

  // Linux: the test watches the sandbox through /proc (CPU time, zombie state). Both ways of
  // learning of the parent's death: the kernel's signal (setpriv, where installed) and the
  // sandbox's own watchdog thread.
  for (const parentDeath of ['auto', 'watchdog'] as const) {
    it.runIf(process.platform === 'linux')(`does not outlive a parent that was killed in the middle of a runaway statement (${parentDeath})`, async () => {
      const parent = spawn(process.execPath, await sandboxParentArgs(chain.dir.root, parentDeath), { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      parent.stdout.on('data', (b: Buffer) => { out += b.toString() })
      const pid = Number(await waitFor(() => (out.includes('\n') ? out.trim() : undefined), { what: 'the sandbox pid' }))
      const stat = (): string[] | undefined => { try { return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ') } catch { return undefined } }
      const alive = (): boolean => { const s = stat(); return s !== undefined && s[0] !== 'Z' && s[0] !== 'X' }
      // Kill the parent only once the sandbox is inside the statement: the mirror open. (Its CPU time
      // was no sign: its start-up's alone passed the mark, the parent died before the statement
      // was sent, and the sandbox ended at the socket's close with no watchdog at all; review40.)
      await waitFor(() => holdsMirror(pid), { what: 'the sandbox to be running the statement' })
      parent.kill('SIGKILL')
      await waitFor(() => !alive(), { what: 'the orphaned sandbox to die' })
    })
  }

  // Where setpriv is installed the kernel kills an orphaned sandbox, and its first statement
  // starts no watchdog thread (a second V8 instance beside the statement; docs/performance/query.md,
  // "Session 39: petal query"). Without the signal, the thread is there.
  it.runIf(process.platform === 'linux' && ['/usr/bin/setpriv', '/bin/setpriv'].some(p => existsSync(p)))('starts no watchdog thread where the kernel kills the sandbox with its parent', async () => {
    const threads: Record<string, number> = {}
    for (const parentDeath of ['auto', 'watchdog'] as const) {
      const fresh = new QuerySandbox(chain.dir.root, { parentDeath })
      try {
        expect((await rowsOf(chain, fresh, 'SELECT count(*) FROM t')).rows).toEqual([[6n]])
        threads[parentDeath] = readdirSync(`/proc/${String(fresh.pid)}/task`).length
      } finally {
        await fresh.close()
      }
    }
    expect((threads.watchdog ?? 0) - (threads.auto ?? 0)).toBe(1)
  })

  // Linux: /proc shows the sandbox's environment. Node sets up an IPC channel named by
  // NODE_CHANNEL_FD before any of a process's code runs (child_process, net, stream, v8: a quarter
  // of a bare Node start, on the first answer's path); the sandbox talks on a plain socket instead
  // (src/query/sandbox/wire.ts; docs/performance/query.md, "Session 39: petal query").
  it.runIf(process.platform === 'linux')('runs without Node\'s IPC channel, on a plain socket as descriptor 3', async () => {
    const fresh = new QuerySandbox(chain.dir.root)
    try {
      expect((await textOf(chain, fresh, 'SELECT count(*) AS n FROM t')).trim()).toBe('{"n":6}')
      const environ = readFileSync(`/proc/${String(fresh.pid)}/environ`, 'utf8').split('\0')
      expect(environ.filter(v => v.startsWith('NODE_CHANNEL'))).toEqual([])
      expect(readlinkSync(`/proc/${String(fresh.pid)}/fd/3`)).toMatch(/^socket:/)
    } finally {
      await fresh.close()
    }
  })

  // The statement goes to a starting sandbox before it says it is ready (sandbox.ts, exchange):
  // a process that never starts is still reported as such, with the installation's hint.
  it('reports a sandbox process that cannot start as a failed start', async () => {
    const broken = new QuerySandbox(chain.dir.root, { env: { ...process.env, NODE_OPTIONS: `--require ${join(tmpDir(), 'missing.cjs')}` } })
    try {
      const e = await failure(rowsOf(chain, broken, 'SELECT count(*) FROM t'))
      expect(e.code).toBe('QUERY_SANDBOX_FAILED')
      expect(e.message).toMatch(/^cannot start the query sandbox process: it exited while starting: .*missing\.cjs/s)
    } finally {
      await broken.close()
    }
  })

  it('reports SQLite errors with their message and a code, never as an empty result', async () => {
    expect((await failure(rowsOf(chain, sandbox, 'SELEC * FROM t'))).message).toContain('near "SELEC": syntax error')
    expect(await code('SELECT * FROM nowhere')).toBe('QUERY_UNKNOWN_TABLE')
    expect(await code('SELECT missing FROM t')).toBe('QUERY_UNKNOWN_COLUMN')
    expect(await code('SELECT * FROM nowhere', true)).toBe('QUERY_UNKNOWN_TABLE')
    expect(await code('SELECT abs(-9223372036854775807 - 1)')).toBe('QUERY_SQL_ERROR') // integer overflow at run time
  })

  it('enforces --max-rows after delivering the rows below it', async () => {
    let out = ''
    const e = await failure(textOf(chain, sandbox, 'SELECT k FROM t ORDER BY _height, rowid', { maxRows: 4, onText: s => { out += s } }))
    expect(e.code).toBe('QUERY_TOO_MANY_ROWS')
    expect(out.trim().split('\n')).toHaveLength(4)
    expect((await rowsOf(chain, sandbox, 'SELECT k FROM t', { maxRows: 6 })).rows).toHaveLength(6)
  })

  it('mirrors a hostile block without running any of its SQL', async () => {
    // _blocks survived, the table is there under its exact name, and no DEFAULT or CHECK came along.
    expect((await rowsOf(chain, sandbox, 'SELECT count(*) FROM _blocks')).rows).toEqual([[6n]])
    const r = await rowsOf(chain, sandbox, `SELECT * FROM ${qi(HOSTILE_TABLE)}`)
    expect(r.columns).toEqual(['_height', HOSTILE_COLUMN, 'c', 'd', 'b', 'e'])
    expect(r.rows).toEqual([[4n, 'v1', 1n, 2n, null, null]])
    const ddl = (await rowsOf(chain, sandbox, 'SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL')).rows.map(x => String(x[0])).join('\n')
    expect(ddl).not.toMatch(/load_extension|randomblob|CHECK|DEFAULT|DROP TABLE t/)
    // The declared type that is SQL text only decided the affinity.
    expect((await rowsOf(chain, sandbox, `SELECT type FROM pragma_table_info(${"'" + HOSTILE_TABLE.replaceAll("'", "''") + "'"}) WHERE name = 'd'`)).rows).toEqual([['INTEGER']])
    // Per-block mode reads the block itself: same row, nothing loaded or attached.
    const p = await rowsOf(chain, sandbox, `SELECT * FROM ${qi(HOSTILE_TABLE)}`, { perBlock: true })
    expect(p.rows).toEqual([[4n, 'v1', 1n, 2n, null, null]])
    // A CHECK calling load_extension cannot stop the mirror (nor run: nothing is ever written to a block).
    expect((await rowsOf(chain, sandbox, 'SELECT _height, g, n FROM guarded')).rows).toEqual([[5n, 'kept', 7n]])
    expect((await rowsOf(chain, sandbox, 'SELECT g, n FROM guarded', { perBlock: true })).rows).toEqual([[5n, 'kept', 7n]])
    for (const dir of [chain.dir.root, process.cwd()]) expect(readdirSync(dir).filter(f => f.startsWith('evil'))).toEqual([])
    expect((await rowsOf(chain, sandbox, 'SELECT count(*) FROM t')).rows).toEqual([[6n]])
  })
})
