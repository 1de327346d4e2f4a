// Query benchmarks: an aggregate over 10,000 blocks against the same statement on one SQLite file
// holding the same rows, per-block mode over 10,000 blocks against a raw open-and-query loop, and
// the mirror's update cost for a 1 MB block against accepting that block. Same run, same machine.
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Chain, createChain, signImport } from '../src/chain/index.js'
import { importPrivateKey } from '../src/crypto/index.js'
import { DEFAULT_CONSENSUS } from '../src/storage/index.js'
import { QueryMirror, QuerySandbox, runQuery } from '../src/query/index.js'
import { cachedQueryChain, GROUPS } from './query-chain.js'
import { printTable, type Row } from './report.js'
import { userEnv } from './user-env.js'

const BLOCKS = Number(process.env.PETAL_BENCH_QUERY_BLOCKS ?? 10_000)
const ROWS = 100 // per block: 1,000,000 rows in all
const AGG = 'SELECT k, COUNT(*), SUM(v) FROM t GROUP BY k'
const CLI = join(import.meta.dirname, '..', 'bin', 'petal.js')
const root = mkdtempSync(join(tmpdir(), 'petal-bench-query-'))
process.on('exit', () => { rmSync(root, { recursive: true, force: true }) })

/** Median time (ms) of each function, run in turns: a, b, c, a, b, c, … after one warm-up each. */
async function interleaved<K extends string> (fns: Record<K, () => unknown>, runs: number): Promise<Record<K, number>> {
  const keys = Object.keys(fns) as K[]
  const times = new Map<K, number[]>(keys.map(k => [k, []]))
  for (const k of keys) await fns[k]()
  for (let i = 0; i < runs; i++) {
    for (const k of keys) {
      const t = performance.now()
      await fns[k]()
      times.get(k)?.push(performance.now() - t)
    }
  }
  return Object.fromEntries(keys.map(k => [k, [...(times.get(k) as number[])].sort((a, b) => a - b)[Math.floor(runs / 2)] as number])) as Record<K, number>
}

async function main (): Promise<void> {
  const dir = await cachedQueryChain(BLOCKS, ROWS)
  rmSync(join(dir, 'query.db'), { force: true })
  for (const s of ['-wal', '-shm']) rmSync(join(dir, `query.db${s}`), { force: true })
  const chain = Chain.open(dir)
  const files = Array.from({ length: BLOCKS + 1 }, (_, h) => chain.dir.blockPath(h))
  const chainBytes = files.reduce((n, f) => n + statSync(f).size, 0)

  // Mirror built from scratch over the whole chain (what `petal reindex --query` does).
  const mirror = QueryMirror.open(chain)
  const tBuild0 = performance.now()
  await mirror.rebuild()
  const tBuild = performance.now() - tBuild0
  mirror.close()

  // The reference: one SQLite file holding the same rows (copied out of the mirror, so identical).
  const refPath = join(root, 'one-file.db')
  const ref = new Database(refPath)
  ref.exec('CREATE TABLE t (k TEXT, v INTEGER)')
  ref.prepare('ATTACH ? AS q').run(chain.dir.queryDb)
  ref.exec('INSERT INTO main.t SELECT k, v FROM q.t ORDER BY rowid')
  ref.exec('DETACH q')
  const refRows = ref.prepare('SELECT count(*) FROM t').pluck().get() as number
  const refStmt = ref.prepare(AGG).raw(true).safeIntegers(true)
  // The same statement straight on query.db in this process: the mirror's layout alone.
  const direct = new Database(chain.dir.queryDb, { readonly: true })
  const directStmt = direct.prepare(AGG).raw(true).safeIntegers(true)
  // Through the engine: sync check + sandbox process (warm) + IPC, results as rows and as NDJSON.
  const sandbox = new QuerySandbox(dir)
  let groups = 0
  await runQuery(chain, { sql: AGG, format: 'rows', sandbox, onRows: r => { groups += r.length } })
  if (groups !== GROUPS) throw new Error(`aggregate returned ${groups} groups`)
  // Measured in turns, so that a change in machine load falls on all of them alike.
  const agg = await interleaved({
    ref: () => refStmt.all(),
    direct: () => directStmt.all(),
    engine: async () => await runQuery(chain, { sql: AGG, format: 'rows', sandbox, onRows: () => {} }),
    engineText: async () => await runQuery(chain, { sql: AGG, format: 'ndjson', sandbox, onText: () => {} })
  }, 7)
  const tRef = agg.ref
  const tDirect = agg.direct
  const tEngine = agg.engine
  const tEngineText = agg.engineText
  ref.close()
  direct.close()
  // A cold `petal query` process: node start-up, chain open, sandbox spawn, sync check, query.
  const cli = (args: string[]): void => { execFileSync(process.execPath, [CLI, '--dir', dir, ...args], { stdio: 'ignore', env: userEnv }) }
  const cold = await interleaved({ agg: () => { cli(['query', AGG]) }, trivial: () => { cli(['query', 'SELECT 1']) } }, 5)
  const tCli = cold.agg
  const tCliTrivial = cold.trivial

  // Per-block mode over every block (genesis included: it has no t, so the catalog skips it).
  const PB = 'SELECT count(*), sum(v) FROM t'
  let pbRows = 0
  const pb = await interleaved({
    rows: async () => { pbRows = 0; await runQuery(chain, { sql: PB, perBlock: true, format: 'rows', sandbox, timeoutMs: 0, onRows: r => { pbRows += r.length } }) },
    text: async () => await runQuery(chain, { sql: PB, perBlock: true, format: 'ndjson', sandbox, timeoutMs: 0, onText: () => {} }),
    // Reference: open each block file read-only, run the statement, close (Daisy's loop, without the leak).
    raw: () => {
      for (let h = 1; h <= BLOCKS; h++) {
        const db = new Database(files[h] as string, { readonly: true })
        db.prepare(PB).raw(true).all()
        db.close()
      }
    }
  }, 3)
  if (pbRows !== BLOCKS) throw new Error(`per-block returned ${pbRows} rows`)
  const tPerBlock = pb.rows
  const tPerBlockText = pb.text
  const tRawLoop = pb.raw
  await sandbox.close()
  chain.close()

  // Mirror update per accepted block, 1 MB blocks, through the real import path.
  const key = importPrivateKey(readFileSync(join(dir, 'bench-key.pem'), 'utf8'))
  const small = await createChain(join(root, 'mb'), { creator: 'bench', description: '1 MB blocks', bootstrapPeers: [], consensus: DEFAULT_CONSENSUS }, key)
  const m = QueryMirror.open(small)
  await m.sync()
  const accept: number[] = []
  const update: number[] = []
  let mbSize = 0
  for (let i = 0; i < 12; i++) {
    const src = join(root, `mb${i}.db`)
    const db = new Database(src)
    db.exec('CREATE TABLE readings (id INTEGER PRIMARY KEY, sensor TEXT, at INTEGER, value REAL, note TEXT)')
    const ins = db.prepare('INSERT INTO readings (sensor, at, value, note) VALUES (?, ?, ?, ?)')
    db.transaction(() => { for (let j = 0; j < 18_500; j++) ins.run(`sensor-${j % 97}`, 1_700_000_000 + j, j * 0.25, `reading ${j} of block ${i}`) })()
    db.close()
    const a0 = performance.now()
    const r = await signImport(small, src, key)
    accept.push(performance.now() - a0)
    mbSize = r.block.size
    const u0 = performance.now()
    const s = await m.sync()
    update.push(performance.now() - u0)
    if (s.applied !== 1) throw new Error('mirror did not apply the block')
  }
  m.close()
  small.close()
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

  const rate = (n: number, ms: number): number => n / (ms / 1000)
  printTable(`Query: aggregate over ${BLOCKS.toLocaleString('en')} blocks (${refRows.toLocaleString('en')} rows, ${GROUPS} groups), ${AGG}`, [
    { figure: 'statement on query.db (in process)', value: tDirect, unit: 'ms', reference: 'same statement, one SQLite file', refValue: tRef, better: 'lower' },
    { figure: 'petal query engine: sync check + sandbox, rows', value: tEngine, unit: 'ms', reference: 'same statement, one SQLite file', refValue: tRef, better: 'lower' },
    { figure: 'petal query engine, NDJSON out', value: tEngineText, unit: 'ms', reference: 'same statement, one SQLite file', refValue: tRef, better: 'lower' },
    { figure: '`petal query` CLI, cold process', value: tCli, unit: 'ms', reference: '`petal query "SELECT 1"`, cold', refValue: tCliTrivial, better: 'lower' }
  ] satisfies Row[])
  printTable(`Query: per-block mode over ${BLOCKS.toLocaleString('en')} blocks (${(chainBytes / 1048576).toFixed(0)} MiB)`, [
    { figure: 'petal query --per-block, rows', value: rate(BLOCKS, tPerBlock), unit: 'blocks/s', reference: 'open + query + close each file, in process', refValue: rate(BLOCKS, tRawLoop), better: 'higher' },
    { figure: 'petal query --per-block, NDJSON out', value: rate(BLOCKS, tPerBlockText), unit: 'blocks/s', reference: 'open + query + close each file, in process', refValue: rate(BLOCKS, tRawLoop), better: 'higher' }
  ] satisfies Row[])
  printTable('Query: mirror maintenance', [
    { figure: `mirror update per accepted block (${(mbSize / 1048576).toFixed(2)} MiB, median of 12)`, value: median(update), unit: 'ms', reference: 'accepting the block (signimportblock)', refValue: median(accept), better: 'lower' },
    { figure: `mirror rebuild, ${BLOCKS.toLocaleString('en')} blocks`, value: rate(BLOCKS + 1, tBuild), unit: 'blocks/s', note: `${(tBuild / 1000).toFixed(1)} s in all` }
  ] satisfies Row[])
}

await main()
