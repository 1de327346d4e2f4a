// Start-up benchmarks (issue 13): what a short command costs beyond starting Node, and `petal
// query` over 1,000 blocks against Daisy's per-block loop. Every figure is a cold process, timed
// in turns with its reference (a, b, c, a, b, c, …) so that machine load falls on all alike.
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Chain, createChain, signImport } from '../src/chain/index.js'
import { importPrivateKey, privateKeyToPem } from '../src/crypto/index.js'
import { DEFAULT_CONSENSUS, Keystore } from '../src/storage/index.js'
import { cachedQueryChain } from './query-chain.js'
import { printTable, type Row } from './report.js'

const BLOCKS = 1000
const RUNS = 9
const CLI = join(import.meta.dirname, '..', 'bin', 'petal.js')
const COUNT = 'SELECT count(*) FROM t'
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

function run (args: string[]): void {
  execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: join(import.meta.dirname, '..') })
}

/** Median wall time (ms) of each cold process, run in turns after one warm-up each. */
function interleaved<K extends string> (cmds: Record<K, () => string[]>, runs: number): Record<K, number> {
  const keys = Object.keys(cmds) as K[]
  const times = new Map<K, number[]>(keys.map(k => [k, []]))
  for (const k of keys) run(cmds[k]())
  for (let i = 0; i < runs; i++) {
    for (const k of keys) {
      const args = cmds[k]()
      const t = performance.now()
      run(args)
      times.get(k)?.push(performance.now() - t)
    }
  }
  return Object.fromEntries(keys.map(k => [k, [...(times.get(k) ?? [])].sort((a, b) => a - b)[Math.floor(runs / 2)] ?? NaN])) as Record<K, number>
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
  // The mirror is built once (that is `petal reindex --query`'s job, not a query's).
  run([CLI, '--dir', q, 'query', 'SELECT 1'])

  let n = 0
  const petal = (dir: string, ...args: string[]) => () => [CLI, '--dir', dir, ...args]
  const local = interleaved({
    node: () => ['-e', '0'],
    status: petal(q, 'status'),
    blocks: petal(q, 'blocks'),
    mykeys: petal(q, 'mykeys'),
    import100: () => [CLI, '--dir', imp, 'signimportblock', rowsFile(join(root, `rows${n++}.db`), 100)]
  }, RUNS)
  const height = Chain.open(imp, { readonly: true })
  const importHeight = height.tip().height
  height.close()

  const query = interleaved({
    daisy: () => ['-e', DAISY_LOOP, q, COUNT, String(BLOCKS)],
    mirror: petal(q, 'query', COUNT),
    perBlock: petal(q, 'query', '--per-block', COUNT)
  }, RUNS)

  // The smallest block: no user tables, no key operation.
  const e = await createChain(join(root, 'empty'), { creator: 'bench', description: 'empty', bootstrapPeers: [], consensus: DEFAULT_CONSENSUS }, key)
  const emptyBlock = await signImport(e, undefined, key)
  e.close()

  const ref = { reference: '`node -e 0`', refValue: local.node, better: 'lower' as const }
  printTable('Start-up: local commands, cold processes on a 1,000-block chain', [
    { figure: '`petal status`', value: local.status, unit: 'ms', ...ref, note: 'goal ≤ 1.5×' },
    { figure: '`petal blocks`', value: local.blocks, unit: 'ms', ...ref, note: 'goal ≤ 1.5×' },
    { figure: '`petal mykeys`', value: local.mykeys, unit: 'ms', ...ref, note: 'goal ≤ 1.5×' },
    { figure: `\`petal signimportblock\`, 100 rows, at height ~${BLOCKS}`, value: local.import100, unit: 'ms', ...ref, note: `goal ≤ 2× (tip now ${importHeight})` }
  ] satisfies Row[])
  const daisy = { reference: "Daisy's loop: a process opening each block file, same statement", refValue: query.daisy, better: 'lower' as const }
  printTable(`Start-up: \`petal query\` over ${BLOCKS.toLocaleString('en')} blocks (100 rows each), cold processes, ${COUNT}`, [
    { figure: '`petal query` (mirror)', value: query.mirror, unit: 'ms', ...daisy, note: 'goal ≤ 1×' },
    { figure: '`petal query --per-block`', value: query.perBlock, unit: 'ms', ...daisy, note: 'goal ≤ 1×' }
  ] satisfies Row[])
  printTable('Start-up: block size', [
    { figure: 'a block without user tables or key operations', value: emptyBlock.block.size / 1024, unit: 'KiB', reference: 'goal', refValue: 8, better: 'lower' }
  ] satisfies Row[])
}

await main()
