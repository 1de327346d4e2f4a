// `_tables`' entries (tableEntriesOf) come out as one kind of array whether the code that makes
// them runs unoptimised or optimised: made by `rows.map`, TurboFan's inlined `map` gave a holey
// array where the builtin gave a packed one, and readOpen's optimised code, which checks the list
// (checkManifestShape), met the other map and was deoptimised in each load thread of a catch-up
// (docs/performance/catchup.md, "Session 49: what the catch-up's isolates compile"). V8's own view of the arrays, in a child started with
// --allow-natives-syntax (the intrinsics through `new Function`, which that flag lets parse them),
// compiling on its own thread (--no-concurrent-recompilation) so that the optimised code is in place when asked.
import { spawnSync } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'

// The suite's bundle of block/read.ts (src-entry.ts), as the CLI's load threads run a bundle: the child goes without tsx.
const READ_FILE = srcEntry('block', 'read.ts')
const READ = pathToFileURL(READ_FILE).href

const script = `
import { tableEntriesOf } from ${JSON.stringify(READ)}
const v8 = (args, body) => new Function(...args, body)
const packed = v8(['a'], 'return %HasFastPackedElements(a)')
const same = v8(['a', 'b'], 'return %HaveSameMap(a, b)')
const status = v8(['f'], 'return %GetOptimizationStatus(f)')
const rows = [['a', 'CREATE TABLE a (x)', 1, 'ab'.repeat(32)], ['b', 'CREATE TABLE b (y)', 20, 'cd'.repeat(32)]]
const none = tableEntriesOf([])
const cold = tableEntriesOf(rows)
// Called until V8 has optimised it (as a load thread's thousands of blocks do).
let hot = cold
for (let i = 0; i < 1000000 && (status(tableEntriesOf) & 16) === 0; i++) hot = tableEntriesOf(rows)
hot = tableEntriesOf(rows)
// Bit 4 (16): optimised code (V8's OptimizationStatus::kOptimized), still in place after that call.
console.log(JSON.stringify({ optimised: (status(tableEntriesOf) & 16) !== 0, cold: packed(cold), hot: packed(hot), none: packed(none), same: same(cold, hot), sameEmpty: same(cold, none), equal: JSON.stringify(cold) === JSON.stringify(hot) }))
`

describe('tableEntriesOf', () => {
  it('gives packed arrays of one map, optimised or not, and the same entries', () => {
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', ...loaderFor(READ_FILE), '--input-type=module', '-e', script], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout.trim())).toEqual({ optimised: true, cold: true, hot: true, none: true, same: true, sameEmpty: true, equal: true })
  })
})
