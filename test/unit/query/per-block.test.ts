import { cpSync, mkdirSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signImport, type Chain } from '../../../src/chain/index.js'
import { QuerySandbox, runQuery } from '../../../src/query/index.js'
import { openBlockChecked, type BlockRef } from '../../../src/query/sandbox/block-file.js'
import { DataDir } from '../../../src/storage/index.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { failure, rowsOf, sqliteFile, textOf } from '../../helpers/query.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('per-block (Daisy) mode', () => {
  let chain: Chain
  let sandbox: QuerySandbox

  beforeAll(async () => {
    const key = fixtureKey('carol')
    ;({ chain } = await newTestChain({ key }))
    const w = tmpDir()
    const blocks = [
      "CREATE TABLE t (a INT); INSERT INTO t VALUES (1), (2)", // 1
      "CREATE TABLE t (a INT); INSERT INTO t VALUES (3); CREATE TABLE u (x TEXT); INSERT INTO u VALUES ('u2')", // 2
      "CREATE TABLE u (x TEXT); INSERT INTO u VALUES ('u3')", // 3
      "CREATE TABLE T (a INT, b TEXT); INSERT INTO T VALUES (4, 'four')", // 4
      undefined // 5: no user tables
    ]
    for (const [i, sql] of blocks.entries()) await signImport(chain, sql === undefined ? undefined : sqliteFile(join(w, `p${i}.db`), db => { db.exec(sql) }), key)
    sandbox = new QuerySandbox(chain.dir.root)
  }, 60_000)

  afterAll(async () => {
    await sandbox?.close()
    chain?.close()
  })

  const perBlock = { perBlock: true }

  it('runs in every block, genesis included, each row starting with _height', async () => {
    const r = await rowsOf(chain, sandbox, 'SELECT count(*) AS keys FROM _keys', perBlock)
    expect(r.columns).toEqual(['_height', 'keys'])
    expect(r.rows).toEqual([[0n, 1n], [1n, 0n], [2n, 0n], [3n, 0n], [4n, 0n], [5n, 0n]])
  })

  it('visits only the blocks the catalog says have the tables (names case-insensitive)', async () => {
    const calls: string[][] = []
    const r = await rowsOf(chain, sandbox, 'SELECT * FROM t', { ...perBlock, onColumns: c => { calls.push(c) } })
    expect(r.rows).toEqual([[1n, 1n], [1n, 2n], [2n, 3n], [4n, 4n, 'four']])
    expect(calls).toEqual([['_height', 'a'], ['_height', 'a', 'b']])
    expect((await rowsOf(chain, sandbox, 'SELECT a, x FROM t, U', perBlock)).rows).toEqual([[2n, 3n, 'u2']])
    expect((await rowsOf(chain, sandbox, 'SELECT (SELECT count(*) FROM u) AS n', perBlock)).rows).toEqual([[2n, 1n], [3n, 1n]])
    const text = await textOf(chain, sandbox, 'SELECT * FROM t', perBlock)
    expect(text).toBe('{"_height":1,"a":1}\n{"_height":1,"a":2}\n{"_height":2,"a":3}\n{"_height":4,"a":4,"b":"four"}\n')
  })

  it('limits heights with from/to and reports how many blocks it ran in', async () => {
    let out = ''
    const r = await runQuery(chain, { sql: "SELECT value FROM _meta WHERE key = 'Height'", format: 'json', perBlock: true, from: 2, to: 3, sandbox, onText: s => { out += s } })
    expect(r.blocks).toBe(2)
    expect(JSON.parse(out)).toMatchObject({ columns: ['_height', 'value'], rows: [[2, '2'], [3, '3']], rowCount: 2, blocks: 2 })
    const none = await rowsOf(chain, sandbox, 'SELECT * FROM t', { ...perBlock, from: 5 })
    expect(none).toEqual({ columns: ['_height', 'a', 'b'], rows: [] })
  })

  it('skips blocks whose tables lack a column the statement names, as it skips blocks without the table', async () => {
    expect((await rowsOf(chain, sandbox, 'SELECT b FROM t', perBlock)).rows).toEqual([[4n, 'four']])
    expect((await rowsOf(chain, sandbox, 'SELECT a AS b FROM t', perBlock)).rows).toEqual([[1n, 1n], [1n, 2n], [2n, 3n], [4n, 4n]])
    let out = ''
    const r = await runQuery(chain, { sql: 'SELECT b FROM t', format: 'json', perBlock: true, sandbox, onText: s => { out += s } })
    expect(r.blocks).toBe(1)
    expect(JSON.parse(out)).toMatchObject({ rows: [[4, 'four']], blocks: 1 })
    expect((await failure(rowsOf(chain, sandbox, 'SELECT nothere FROM t', perBlock))).code).toBe('QUERY_UNKNOWN_COLUMN')
  })

  it('stops at the first block where the statement fails, naming it', async () => {
    const e = await failure(rowsOf(chain, sandbox, 'SELECT sum(x) FROM (SELECT 9223372036854775807 AS x UNION ALL SELECT a FROM t)', perBlock))
    expect(e.code).toBe('QUERY_SQL_ERROR')
    expect(e.message).toMatch(/integer overflow.*block 1/)
    expect(e.details?.height).toBe(1)
    expect((await failure(rowsOf(chain, sandbox, 'SELECT * FROM nowhere', perBlock))).code).toBe('QUERY_UNKNOWN_TABLE')
    // Formats with one header refuse blocks whose columns differ, instead of mislabelling them.
    expect((await failure(textOf(chain, sandbox, 'SELECT * FROM t', { ...perBlock, format: 'csv' }))).code).toBe('QUERY_BLOCK_FAILED')
  })

  it('plans EXPLAIN by the statement it explains', async () => {
    const r = await rowsOf(chain, sandbox, 'EXPLAIN QUERY PLAN SELECT * FROM u', perBlock)
    expect([...new Set(r.rows.map(x => x[0]))]).toEqual([2n, 3n])
  })

  it('finds a block a reorg moved to forks/, and refuses a file that is not the block', () => {
    const copy = join(tmpDir(), 'moved')
    cpSync(chain.dir.root, copy, { recursive: true })
    const rec = chain.get(2)
    if (rec === undefined) throw new Error('no block 2')
    const ref: BlockRef = { height: rec.height, hash: rec.hash, parent: rec.parent, rowsRoot: rec.rowsRoot, signer: rec.signer, timestamp: rec.timestamp, prevSig: rec.prevSig }
    const dir = new DataDir(copy)
    mkdirSync(dir.forksDir, { recursive: true })
    renameSync(dir.blockPath(2), dir.forkPath(rec.hash))
    const db = openBlockChecked(copy, ref)
    expect(db.prepare('SELECT x FROM u').pluck().get()).toBe('u2')
    db.close()
    // Block 3's file in block 2's place: its _meta gives it away.
    cpSync(dir.blockPath(3), dir.blockPath(2))
    renameSync(dir.forkPath(rec.hash), join(copy, 'elsewhere.db'))
    let code: string | undefined
    try { openBlockChecked(copy, ref) } catch (err) { code = (err as { code?: string }).code }
    expect(code).toBe('QUERY_BLOCK_UNREADABLE')
  })
})
