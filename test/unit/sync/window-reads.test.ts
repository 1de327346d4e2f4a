// The download's walks of its window read within the list: GroupGate.due (the group's end, once
// every slot at the head is checked) and DownloadScheduler's headIndex (once every slot is being
// placed) read one slot past the end, and V8 deoptimised their optimised code there ("out of
// bounds", in a catch-up's last groups: docs/performance/catchup.md, "Session 50: the catch-up's last deoptimisations of Petal's code (catchup50)").
// V8's own view, in a child started with --allow-natives-syntax (the intrinsics through
// `new Function`), compiling on its own thread: each function optimised on the lists a catch-up
// shows it first, then given one that ends where the walk does.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { entryOf, loaderFor } from '../../helpers/src-entry.js'

// The suite's bundles of the modules (test/helpers/src-entry.ts), as the CLI runs a bundle: each
// is used alone (a GroupGate, and headIndex on a stand-in for its scheduler).
const files = ['group-gate.ts', 'download.ts'].map(f => entryOf(join(import.meta.dirname, '..', '..', '..', 'src', 'sync', f)))
const src = (i: number): string => JSON.stringify(pathToFileURL(files[i] as string).href)

const script = `
import { GroupGate } from ${src(0)}
import { DownloadScheduler } from ${src(1)}
const v8 = (args, body) => new Function(...args, body)
const status = v8(['f'], 'return %GetOptimizationStatus(f)')
const prepare = v8(['f'], '%PrepareFunctionForOptimization(f)')
const optimise = v8(['f'], '%OptimizeFunctionOnNextCall(f)')
// Bit 4 (16): optimised code (V8's OptimizationStatus::kOptimized).
const optimised = (f) => (status(f) & 16) !== 0
const slot = (kind) => ({ state: { kind } })
const checks = { passed: () => true, settled: () => false }
const gate = new GroupGate(50, () => 0)
const due = GroupGate.prototype.due
const answers = []
prepare(due)
const warm = () => [
  gate.due([slot('fetched'), slot('fetching'), slot('waiting')], checks),
  gate.due([slot('fetched'), slot('waiting')], checks),
  gate.due([slot('fetching')], checks)
]
for (let i = 0; i < 50; i++) answers.push(...warm())
optimise(due)
answers.push(...warm())
const dueBefore = optimised(due)
answers.push(gate.due([slot('fetched'), slot('fetched')], checks))
const head = DownloadScheduler.prototype.headIndex
const heads = []
prepare(head)
for (let i = 0; i < 50; i++) heads.push(head.call({ slots: [slot('importing'), slot('fetched')] }))
optimise(head)
heads.push(head.call({ slots: [slot('importing'), slot('fetched')] }))
const headBefore = optimised(head)
heads.push(head.call({ slots: [slot('importing'), slot('importing')] }), head.call({ slots: [slot('importing')].slice(1) }))
console.log(JSON.stringify({ dueBefore, due: optimised(due), dueAnswers: [answers.slice(0, 3), answers.at(-4), answers.at(-1)], headBefore, head: optimised(head), heads: heads.slice(-3) }))
`

describe('the download window walks', () => {
  it('keep their optimised code at the end of the list, with the same answers', () => {
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', ...loaderFor(...files), '--input-type=module', '-e', script], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    // due: held while the block above is on its way, placed when it is not, placed at the list's end
    // (nothing above: a node following the tip never waits). headIndex: the first slot not being placed.
    expect(JSON.parse(r.stdout.trim())).toEqual({
      dueBefore: true, due: true, dueAnswers: [[false, true, true], false, true],
      headBefore: true, head: true, heads: [1, 2, 0]
    })
  })
})
