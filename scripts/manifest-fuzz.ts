/**
 * A long run of the manifest's differential fuzz (test/helpers/manifest-fuzz.ts; the suite runs a
 * bounded one in test/unit/block/manifest-fuzz.test.ts). Counts, not timings: no bench lock.
 * `node --import tsx scripts/manifest-fuzz.ts [--seed S] [--files N] [--iterations M] [--only I] [--small] [--varints] [--cell-counts] [--pool R] [--keep] [--verbose]`
 * builds N seed blocks (seeds S, S+1, …; `--small`: the suite's small ones; `--pool R`: with a
 * table of R rows, every table also through a two-thread pool as a node reads it; `--varints`:
 * only varints rewritten longer; `--cell-counts`: a b-tree page's cell count changed in every
 * mutant, besides the other changes, not in one in 12), tries M mutants of
 * each, and prints every disagreement with the seed and mutant index that replay it (`--seed S
 * --files 1 --only I`; `--keep` keeps the files). Exits 1 on any. One core (and the pool's two).
 * After `npm run build`, the native hasher is compared with the WebAssembly one too.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TableRootPool } from '../src/block/index.js'
import { merkleHasher } from '../src/crypto/index.js'
import { newCounts, runMutant } from '../test/helpers/manifest-fuzz.js'
import { seedBlock } from '../test/helpers/manifest-mutants.js'

const args = process.argv.slice(2)
const opt = (name: string, def: string): string => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] ?? def : def }
const first = Number(opt('seed', String(Date.now() % 1_000_000)))
const files = Number(opt('files', '10'))
const iterations = Number(opt('iterations', '500'))
const only = args.includes('--only') ? Number(opt('only', '0')) : undefined
const keep = args.includes('--keep')
const verbose = args.includes('--verbose')
const small = args.includes('--small')
const varints = args.includes('--varints')
const cellCounts = args.includes('--cell-counts')
// `--pool R`: table a of R rows (65,536 or more: hashed over a pool's two threads, as a node does).
const big = args.includes('--pool') ? Number(opt('pool', '70000')) : undefined
const pool = big === undefined ? undefined : new TableRootPool(2)
const native = merkleHasher().hasher === 'native'
const dir = mkdtempSync(join(tmpdir(), 'petal-manifest-fuzz-'))
const counts = newCounts()
let failures = 0
const started = Date.now()
try {
  for (let seed = first; seed < first + files; seed++) {
    const s = await seedBlock(dir, seed, small, big)
    for (let i = only ?? 0; i < (only === undefined ? iterations : only + 1); i++) {
      if (verbose) console.log(`seed ${seed} mutant ${i}`)
      const m = await runMutant(dir, s, seed, i, counts, native, { varints, pool, cellCounts })
      if (m.found.length > 0) {
        failures++
        console.log(`DIVERGENCE --seed ${seed} --only ${i} (${m.what}):\n  ${m.found.join('\n  ')}`)
      }
    }
    console.log(`seed ${seed} (page size ${s.pageSize}, ${s.pages.length} user pages): ${JSON.stringify(counts)} ${Math.round((Date.now() - started) / 1000)} s`)
  }
} finally {
  await pool?.close()
  if (!keep) rmSync(dir, { recursive: true, force: true })
  else console.log(`files kept in ${dir}`)
}
console.log(`${files} seed blocks from ${first}, ${counts.mutants} mutants (${counts.quickOk} passed quick_check; ${counts.tables} tables compared, ${counts.fastAnswered} read by the fast path, ${counts.nativeAnswered} by the native walker; ${counts.validated} re-sealed blocks validated, ${counts.accepted} accepted; ${counts.pooled} tables of 65,536 rows or more through the pool), hasher ${native ? 'native and WebAssembly' : 'WebAssembly'}: ${failures} with a divergence`)
process.exitCode = failures > 0 ? 1 : 0
