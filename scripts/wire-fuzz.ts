/**
 * A long run of the wire decoders' differential fuzz (test/helpers/wire-fuzz.ts; the suite runs a
 * bounded one in test/unit/network/wire-fuzz.test.ts). Counts, not timings: no bench lock.
 * `node --import tsx scripts/wire-fuzz.ts [--seed S] [--seeds N] [--iterations M] [--kind K] [--only I]`
 * mutates the seed message of each kind (seeds S, S+1, …; every kind, or K) M times, truncates it
 * at every byte, and prints every disagreement with the line that replays it
 * (`--seed S --seeds 1 --kind K --only I`). Exits 1 on any. One core.
 * `--records`: the record readers' fuzz instead (test/helpers/records-fuzz.ts): seed S's table in
 * JSON, NDJSON and CSV as `petal query` writes them, then M mutants of its CSV against the reference.
 */
import { fixtureKey } from '../test/helpers/chain.js'
import { newRecordCounts, runRecordsMutant } from '../test/helpers/records-fuzz.js'
import { compare, KINDS, mutant, newWireCounts, seedOf, type Kind } from '../test/helpers/wire-fuzz.js'

const args = process.argv.slice(2)
const opt = (name: string, def: string): string => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] ?? def : def }
const first = Number(opt('seed', String(Date.now() % 1_000_000)))
const seeds = Number(opt('seeds', '20'))
const iterations = Number(opt('iterations', '2000'))
const only = args.includes('--only') ? Number(opt('only', '0')) : undefined
const kinds: readonly Kind[] = args.includes('--kind') ? [opt('kind', 'announcement') as Kind] : KINDS
if (args.includes('--records')) {
  const counts = newRecordCounts()
  let failures = 0
  for (let seed = first; seed < first + seeds; seed++) {
    for (let i = only ?? 0; i < (only === undefined ? iterations : only + 1); i++) {
      const m = runRecordsMutant(seed, i, counts)
      if (m.found.length > 0) { failures++; console.log(`DIVERGENCE --records --seed ${seed} --seeds 1 --only ${i} (${m.what}):\n  ${m.found.join('\n  ')}`) }
    }
  }
  console.log(`records: inputs ${JSON.stringify(counts.inputs)}; accepted ${JSON.stringify(counts.accepted)}; refusals ${JSON.stringify(counts.codes)}: ${failures} with a divergence`)
  process.exit(failures > 0 ? 1 : 0)
}
const key = fixtureKey('alice')
const counts = newWireCounts()
let failures = 0
const started = Date.now()
for (let seed = first; seed < first + seeds; seed++) {
  for (const kind of kinds) {
    if (only === undefined) {
      // the seed itself, and cut at every byte
      const s = seedOf(key, kind, seed)
      for (let n = 0; n <= s.bytes.length; n++) {
        const found = compare(kind, s.bytes.subarray(0, n), s.req, counts)
        if (found.length > 0) { failures++; console.log(`DIVERGENCE --seed ${seed} --kind ${kind} (cut at ${n}):\n  ${found.join('\n  ')}`) }
      }
    }
    for (let i = only ?? 0; i < (only === undefined ? iterations : only + 1); i++) {
      const m = mutant(key, kind, seed, i, counts)
      const found = compare(kind, m.bytes, m.req, counts)
      if (found.length > 0) { failures++; console.log(`DIVERGENCE --seed ${seed} --seeds 1 --kind ${kind} --only ${i} (${m.what}):\n  ${found.join('\n  ')}`) }
    }
  }
  console.log(`seed ${seed}: ${JSON.stringify(counts.inputs)} ${Math.round((Date.now() - started) / 1000)} s`)
}
console.log(`inputs by kind ${JSON.stringify(counts.inputs)}; accepted ${JSON.stringify(counts.accepted)}; refusals ${JSON.stringify(counts.codes)}; mutations ${JSON.stringify(counts.mutants)}: ${failures} with a divergence`)
process.exitCode = failures > 0 ? 1 : 0
