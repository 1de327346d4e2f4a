// Reading re-seal marks on long chains (session 49, reseal49): `petal orphans` and the node's
// re-seal judgement (judgeOrphans, what each pass of the node asks before every re-seal) on a
// chain of N real blocks with orphans, some of them back by marked copies, against `node -e 0` and
// a plain scan of chain.db's blocks table in a process of its own, in the same run. The judgement
// reads the index by height only above the orphans' forks (at most max_reorg_depth below the tip)
// and the `_meta` of the signer's blocks there with the orphan's rows root: it should not grow with N.
//
//   node --import tsx bench/orphans-marks.ts [--blocks 1000,10000] [--orphans 8] [--runs 5]
//
// Chains are built once per machine and cached (bench/query-chain.ts); take /work/wt/.bench.lock.
import Database from 'better-sqlite3'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Chain, importBlock, judgeOrphans, resealOrphan, signImport } from '../src/chain/index.js'
import { importPrivateKey, type SigningKey } from '../src/crypto/index.js'
import { Ingest, ResealRecord } from '../src/ingest/index.js'
import { readSeal } from '../src/storage/index.js'
import { cachedQueryChain } from './query-chain.js'
import { userEnv } from './user-env.js'

const arg = (name: string, dflt: string): string => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] ?? dflt : dflt }
const SIZES = arg('blocks', '1000,10000').split(',').map(Number)
const ORPHANS = Number(arg('orphans', '8'))
const RUNS = Number(arg('runs', '5'))
const ROOT = join(import.meta.dirname, '..')
const CLI = join(ROOT, 'bin', 'petal.js')

function median (xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN }

/** Median wall time (ms) of `RUNS` runs of a process. */
function timeProcess (args: string[]): number {
  const ts: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now()
    execFileSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...userEnv, PETAL_LOG_LEVEL: 'error' } })
    ts.push(performance.now() - t0)
  }
  return median(ts)
}

/** A one-table file of `rows` rows (the same file for the same seed). */
function source (dir: string, seed: number, rows = 3): string {
  const p = join(dir, `s${seed}-${Math.random()}.db`)
  const db = new Database(p)
  db.exec('CREATE TABLE mine (n INTEGER, note TEXT)')
  for (let i = 0; i < rows; i++) db.prepare('INSERT INTO mine VALUES (?, ?)').run(i, `seed ${seed} row ${i}`)
  db.close()
  return p
}

/**
 * A copy of the cached chain (block files hard-linked: they are never written in place) with
 * ORPHANS blocks of the same file orphaned by a longer branch, half of them re-sealed (marked copies
 * on the tip), and pending.db's record kept from before them.
 */
async function withOrphans (src: string, key: SigningKey, scratch: string): Promise<string> {
  const a = join(scratch, 'a')
  const b = join(scratch, 'b')
  for (const to of [a, b]) {
    execFileSync('cp', ['-al', src, to])
    for (const s of ['', '-wal', '-shm']) { rmSync(join(to, `chain.db${s}`), { force: true }); try { cpSync(join(src, `chain.db${s}`), join(to, `chain.db${s}`)) } catch {} }
  }
  const ca = Chain.open(a)
  const cb = Chain.open(b)
  const ingest = Ingest.open({ chain: ca, key })
  const record = new ResealRecord(ingest.store)
  try {
    const same = source(scratch, 1)
    for (let i = 0; i < ORPHANS; i++) await signImport(ca, same, key)
    for (let i = 0; i <= ORPHANS; i++) await signImport(cb, source(scratch, 100 + i, 1), key)
    const from = ca.tip().height - ORPHANS
    for (const x of cb.index.range(from + 1, cb.tip().height)) {
      const p = cb.pathOf(x)
      await importBlock(ca, p, readSeal(p), { expectedHash: x.hash })
    }
    const orphans = ca.index.sideBlocks()
    if (orphans.length !== ORPHANS) throw new Error(`expected ${ORPHANS} orphans, found ${orphans.length}`)
    for (const o of orphans.slice(0, ORPHANS / 2)) {
      await resealOrphan(ca, o.hash, key, { origin: o.hash, beforeAccept: async x => { await record.record(x.hash, o.hash, o.hash) } })
    }
  } finally {
    await ingest.close()
    ca.close()
    cb.close()
  }
  return a
}

const scanSrc = `const D = require('better-sqlite3'); const db = new D(process.argv[1], { readonly: true }); let n = 0; for (const r of db.prepare('SELECT * FROM blocks').iterate()) n += r.height > -1 ? 1 : 0; db.close()`

const lines: string[] = []
for (const n of SIZES) {
  const src = await cachedQueryChain(n, 1)
  const key = importPrivateKey(readFileSync(join(src, 'bench-key.pem'), 'utf8'))
  const scratch = mkdtempSync(join(tmpdir(), 'petal-bench-orphans-'))
  try {
    const dir = await withOrphans(src, key, scratch)
    // The node's judgement, in process: cold (a new connection, no mark read yet) and warm.
    const cold: number[] = []
    const warm: number[] = []
    const open: number[] = []
    let verdicts = ''
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now()
      // Without the record, as `petal orphans --all` judges a key that is not the directory's and
      // another node holding the key does: the copies are found by their marks, read from the files.
      const chain = Chain.open(dir, { readonly: true })
      const ingest = Ingest.open({ chain, readonly: true })
      const t1 = performance.now()
      const j = judgeOrphans(chain, key.id)
      const t2 = performance.now()
      judgeOrphans(chain, key.id)
      const t3 = performance.now()
      open.push(t1 - t0); cold.push(t2 - t1); warm.push(t3 - t2)
      verdicts = Object.entries(j.reduce<Record<string, number>>((m, x) => { const k = x.verdict.state === 'back' ? `back:${x.verdict.by}` : x.verdict.state; m[k] = (m[k] ?? 0) + 1; return m }, {})).map(([k, v]) => `${k}=${v}`).join(' ')
      await ingest.close()
      chain.close()
    }
    const tip = n + ORPHANS / 2 + 1
    const nodeFloor = timeProcess(['-e', '0'])
    const scan = timeProcess(['-e', scanSrc, join(dir, 'chain.db')])
    const orphans = timeProcess([CLI, '--dir', dir, '--json', 'orphans', '--all'])
    const status = timeProcess([CLI, '--dir', dir, '--json', 'status'])
    lines.push(`orphans-marks n=${n} tip~${tip} orphans=${ORPHANS} (${verdicts}): judgeOrphans cold ${median(cold).toFixed(2)} ms, warm ${median(warm).toFixed(2)} ms (open chain+pending ${median(open).toFixed(1)} ms); ` +
      `process: node -e 0 ${nodeFloor.toFixed(0)} ms, chain.db scan ${scan.toFixed(0)} ms, petal status ${status.toFixed(0)} ms, petal orphans --all ${orphans.toFixed(0)} ms (median of ${RUNS})`)
    process.stderr.write(lines.at(-1) + '\n')
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}
console.log(lines.join('\n'))
