// Start-up benchmarks (issue 13): what a short command costs beyond starting Node, and `petal
// query` over 1,000 blocks against Daisy's per-block loop. Every figure is a cold process, timed
// in turns with its reference (a, b, c, a, b, c, …) so that machine load falls on all alike.
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Chain, createChain, reindexChain, signImport } from '../src/chain/index.js'
import { importPrivateKey, privateKeyToPem } from '../src/crypto/index.js'
import { DEFAULT_CONSENSUS, Keystore } from '../src/storage/index.js'
import { cachedQueryChain } from './query-chain.js'
import { childrenCpuMs, printTable, type Row } from './report.js'
import { userEnv } from './user-env.js'

// This machine's environment names a certificate bundle that Node parses in every process before
// any JavaScript runs (~53 ms of `node -e 0`, session 20): it sits on both sides of each ratio and
// flattens it. The local commands are therefore also timed without it, against a `node -e 0`
// started the same way, which is what a user without the variable sees.
const { NODE_EXTRA_CA_CERTS: extraCa, ...noCaEnv } = userEnv

const BLOCKS = 1000
const RUNS = 9
const CLI = join(import.meta.dirname, '..', 'bin', 'petal.js')
const COUNT = 'SELECT count(*) FROM t'
/** `PETAL_BENCH_STARTUP=query npm run bench -- startup`: the query figure alone (its table only). */
const QUERY_ONLY = process.env.PETAL_BENCH_STARTUP === 'query'
const root = mkdtempSync(join(tmpdir(), 'petal-bench-startup-'))
process.on('exit', () => { rmSync(root, { recursive: true, force: true }) })

// Daisy's `query` loop, as a Node program: open each block file, run the statement, close.
const DAISY_LOOP = `const Database = require('better-sqlite3'); const [dir, sql, n] = process.argv.slice(1)
let rows = 0
for (let h = 1; h <= Number(n); h++) {
  const f = dir + '/' + (h >> 16).toString(16).padStart(4, '0') + '/block_' + h.toString(16).padStart(8, '0') + '.db'
  const db = new Database(f, { readonly: true }); rows += db.prepare(sql).raw(true).all().length; db.close()
}
process.stdout.write(rows + '\\n')`

// The measured processes (Petal's and the references alike) start as a user's would (user-env.ts).

/** A command line, started with `env` (the user's environment unless told). */
interface Cmd { args: string[], env?: NodeJS.ProcessEnv }

function run (args: string[], env: NodeJS.ProcessEnv = userEnv): void {
  execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: join(import.meta.dirname, '..'), env })
}

/** Median and range of the wall times (ms), mean CPU time (ms). */
interface Timing { wall: number, cpu: number, min: number, max: number }

/** Median wall time and mean CPU time (ms) of each cold process, run in turns after one warm-up each. */
function interleaved<K extends string> (cmds: Record<K, () => string[] | Cmd>, runs: number): Record<K, Timing> {
  const keys = Object.keys(cmds) as K[]
  const times = new Map<K, number[]>(keys.map(k => [k, []]))
  const cpu = new Map<K, number>(keys.map(k => [k, 0]))
  const cmd = (k: K): Cmd => { const c = cmds[k](); return Array.isArray(c) ? { args: c } : c }
  for (const k of keys) { const c = cmd(k); run(c.args, c.env) }
  for (let i = 0; i < runs; i++) {
    for (const k of keys) {
      const { args, env } = cmd(k)
      const c = childrenCpuMs()
      const t = performance.now()
      run(args, env)
      times.get(k)?.push(performance.now() - t)
      cpu.set(k, (cpu.get(k) ?? 0) + childrenCpuMs() - c)
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
  return Object.fromEntries(keys.map(k => {
    const ts = times.get(k) ?? []
    return [k, { wall: median(ts), cpu: (cpu.get(k) ?? 0) / runs, min: Math.min(...ts), max: Math.max(...ts) }]
  })) as Record<K, Timing>
}

/** A timing's range of wall times, e.g. `125–136`. */
function spread (t: Timing): string { return `${t.min.toFixed(0)}–${t.max.toFixed(0)}` }

/** Rows of wall and CPU figures of `fig` against `ref`. */
function rows (figs: Array<[string, Timing, string]>, reference: string, ref: Timing): Row[] {
  return figs.flatMap(([figure, t, note]) => [
    { figure: `${figure}, wall`, value: t.wall, unit: 'ms', reference, refValue: ref.wall, better: 'lower' as const, note },
    { figure: `${figure}, CPU`, value: t.cpu, unit: 'ms', reference, refValue: ref.cpu, better: 'lower' as const, note }
  ])
}

function rowsFile (path: string, rows: number): string {
  const db = new Database(path)
  db.exec('CREATE TABLE readings (id INTEGER PRIMARY KEY, sensor TEXT, at INTEGER, value REAL)')
  const ins = db.prepare('INSERT INTO readings (sensor, at, value) VALUES (?, ?, ?)')
  db.transaction(() => { for (let i = 0; i < rows; i++) ins.run(`sensor-${i % 7}`, 1_700_000_000 + i, i * 0.5) })()
  db.close()
  return path
}

async function main (): Promise<void> {
  const cache = await cachedQueryChain(BLOCKS, 100)
  const key = importPrivateKey(readFileSync(join(cache, 'bench-key.pem'), 'utf8'))
  // Two copies of the 1,000-block chain: one only read, one that the imports extend.
  const q = join(root, 'q')
  const imp = join(root, 'imp')
  for (const d of [q, imp]) {
    cpSync(cache, d, { recursive: true })
    for (const f of ['query.db', 'query.db-wal', 'query.db-shm']) rmSync(join(d, f), { force: true })
    new Keystore(join(d, 'keystore')).import(privateKeyToPem(key))
  }
  // A chain cached before session 8 has no record of its genesis's Daisy commitment in chain.db
  // (docs/data-directory.md), and `status` would read the genesis file as on an old directory;
  // reindexed, it is what newchain, init and pull leave today.
  await reindexChain(q, { workers: 2 })
  // The mirror is built once (that is `petal reindex --query`'s job, not a query's), in both
  // copies: without its own, the import chain's first import (a warm-up) built it from 1,000
  // blocks, seconds of writes landing just before the timed rounds (session 42).
  run([CLI, '--dir', q, 'query', 'SELECT 1'])
  if (!QUERY_ONLY) run([CLI, '--dir', imp, 'query', 'SELECT 1'])
  // The setup's writes (two copies of the chain, their mirrors) and a previous suite's deletions
  // reach the disk before anything is timed: the import fsyncs five times, and an fsync may wait
  // for a journal commit that carries them (session 42).
  execFileSync('sync', ['-f', root], { stdio: 'ignore' })

  let n = 0
  const petal = (dir: string, ...args: string[]) => () => [CLI, '--dir', dir, ...args]
  const noCa = (f: () => string[]) => (): Cmd => ({ args: f(), env: noCaEnv })
  const nodeE0 = (): string[] => ['-e', '0']
  const import100 = (): string[] => [CLI, '--dir', imp, 'signimportblock', rowsFile(join(root, `rows${n++}.db`), 100)]
  // Both environments in one round each, so that load falls on both passes alike.
  if (QUERY_ONLY) return await queryFigure(q)
  const local = interleaved({
    node: nodeE0,
    status: petal(q, 'status'),
    blocks: petal(q, 'blocks'),
    mykeys: petal(q, 'mykeys'),
    import100,
    ...(extraCa === undefined
      ? {}
      : {
          nodeNoCa: noCa(nodeE0),
          statusNoCa: noCa(petal(q, 'status')),
          blocksNoCa: noCa(petal(q, 'blocks')),
          mykeysNoCa: noCa(petal(q, 'mykeys')),
          import100NoCa: noCa(import100)
        })
  } as Record<string, () => string[] | Cmd>, RUNS)
  const height = Chain.open(imp, { readonly: true })
  const importHeight = height.tip().height
  height.close()


  // The smallest block: no user tables, no key operation.
  const e = await createChain(join(root, 'empty'), { creator: 'bench', description: 'empty', bootstrapPeers: [], consensus: DEFAULT_CONSENSUS }, key)
  const emptyBlock = await signImport(e, undefined, key)
  e.close()

  const localRows = (s: '' | 'NoCa'): Row[] => rows([
    ['`petal status`', local[`status${s}`]!, 'goal ≤ 1.5×'],
    ['`petal blocks`', local[`blocks${s}`]!, 'goal ≤ 1.5×'],
    ['`petal mykeys`', local[`mykeys${s}`]!, 'goal ≤ 1.5×'],
    [`\`petal signimportblock\`, 100 rows, at height ~${BLOCKS}`, local[`import100${s}`]!, `goal ≤ 2× (tip now ${importHeight}; wall ${spread(local[`import100${s}`]!)} ms, \`node -e 0\` ${spread(local[`node${s}`]!)})`]
  ], '`node -e 0`', local[`node${s}`]!)
  const title = 'Start-up: local commands, cold processes on a 1,000-block chain (wall: median; CPU: mean, process and its children)'
  printTable(extraCa === undefined
    ? `${title}; NODE_EXTRA_CA_CERTS not set`
    : `${title}; environment as given (NODE_EXTRA_CA_CERTS=${extraCa}, parsed by every Node process)`, localRows(''))
  if (extraCa !== undefined) {
    printTable(`${title}; NODE_EXTRA_CA_CERTS removed (every process of this table, \`node -e 0\` included), same rounds as the table above`, localRows('NoCa'))
  }
  await queryFigure(q)
  printTable('Start-up: block size', [
    { figure: 'a block without user tables or key operations', value: emptyBlock.block.size / 1024, unit: 'KiB', reference: 'goal', refValue: 8, better: 'lower' }
  ] satisfies Row[])
}

/** `petal query` against Daisy's loop, in turns, and its table. */
async function queryFigure (q: string): Promise<void> {
  const petal = (...args: string[]) => () => [CLI, '--dir', q, ...args]
  const query = interleaved({
    daisy: () => ['-e', DAISY_LOOP, q, COUNT, String(BLOCKS)],
    mirror: petal('query', COUNT),
    perBlock: petal('query', '--per-block', COUNT)
  }, RUNS)
  printTable(`Start-up: \`petal query\` over ${BLOCKS.toLocaleString('en')} blocks (100 rows each), cold processes, ${COUNT}`, rows([
    ['`petal query` (mirror)', query.mirror, 'goal ≤ 1×'],
    ['`petal query --per-block`', query.perBlock, "Daisy's own mode, for comparison (issue 13's goal is the line above)"]
  ], "Daisy's loop: a process opening each block file, same statement", query.daisy))
}

await main()
