// chainTreeLeaf, run by every placement for each block it makes canonical, keeps its optimised code:
// built from `[hash, rowsRoot, creator].map(…)`, TurboFan's inlined `map` made a list of another kind
// than the builtin's, and the optimised code was deoptimised at its first call (`wrong map` at
// `parts.some`), in every catch-up (docs/performance/catchup.md, "Session 50: the catch-up's last deoptimisations of Petal's code (catchup50)"). V8's
// own view in a child started with --allow-natives-syntax (the intrinsics through `new Function`),
// compiling on its own thread (--no-concurrent-recompilation). And the leaf is the one the
// Buffer.from parts made, refused exactly where they were not 32 bytes each.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { chainTreeLeaf } from '../../../src/chain/index.js'
import { entryOf, loaderFor } from '../../helpers/src-entry.js'

// The suite's bundle of the module (test/helpers/src-entry.ts), as the CLI runs a bundle; tsx's
// loader only without the suite's bundler.
const TREE_FILE = entryOf(join(import.meta.dirname, '..', '..', '..', 'src', 'chain', 'chain-tree.ts'))
const TREE = pathToFileURL(TREE_FILE).href

const script = `
import { chainTreeLeaf } from ${JSON.stringify(TREE)}
const v8 = (args, body) => new Function(...args, body)
const status = v8(['f'], 'return %GetOptimizationStatus(f)')
const prepare = v8(['f'], '%PrepareFunctionForOptimization(f)')
const optimise = v8(['f'], '%OptimizeFunctionOnNextCall(f)')
const hex = (i) => i.toString(16).padStart(64, '0')
const rec = (i) => ({ height: i, hash: hex(i), rowsRoot: hex(i + 1), signer: '1:' + hex(i + 2) })
const cold = []
prepare(chainTreeLeaf)
for (let i = 1; i <= 50; i++) cold.push(Buffer.from(chainTreeLeaf(rec(i))).toString('hex'))
optimise(chainTreeLeaf)
const hot = []
for (let i = 1; i <= 50; i++) hot.push(Buffer.from(chainTreeLeaf(rec(i))).toString('hex'))
// Bit 4 (16): optimised code (V8's OptimizationStatus::kOptimized), still in place after those calls.
console.log(JSON.stringify({ optimised: (status(chainTreeLeaf) & 16) !== 0, same: JSON.stringify(cold) === JSON.stringify(hot) }))
`

/** The leaf as chainTreeLeaf made it before session 50: Buffer.from of each field, refused unless each is 32 bytes. */
function reference (b: { height: number, hash: string, rowsRoot: string, signer: string }): string | undefined {
  const creator = b.signer.startsWith('1:') ? b.signer.slice(2) : ''
  const parts = [b.hash, b.rowsRoot, creator].map(h => Buffer.from(h, 'hex'))
  if (parts.some(p => p.length !== 32)) return undefined
  const height = Buffer.alloc(8)
  height.writeBigUInt64BE(BigInt(b.height))
  const leaf = Buffer.concat([Buffer.from('petal/v2/chain-leaf\n'), height, ...parts])
  return createHash('sha256').update(Buffer.from([0])).update(leaf).digest('hex')
}

describe('chainTreeLeaf', () => {
  it('stays optimised once V8 optimises it, with the same leaves', () => {
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', ...loaderFor(TREE_FILE), '--input-type=module', '-e', script], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout.trim())).toEqual({ optimised: true, same: true })
  })

  it('makes the leaf the Buffer.from parts made, and refuses what they refused', () => {
    const good = 'ab'.repeat(32)
    const fields = [good, good + 'c', good + 'cd', 'ab'.repeat(31), 'zz' + 'ab'.repeat(31), 'ab'.repeat(31) + 'zz', 'AB'.repeat(32), '']
    for (const hash of fields) {
      for (const signer of ['1:' + good, '1:' + fields[3], good, '2:' + good]) {
        const b = { height: 7, hash, rowsRoot: 'cd'.repeat(32), signer }
        const want = reference(b)
        if (want === undefined) expect(() => chainTreeLeaf(b), `${hash} ${signer}`).toThrow(/malformed hash, RowsRoot or creator/)
        else expect(Buffer.from(chainTreeLeaf(b)).toString('hex'), `${hash} ${signer}`).toBe(want)
      }
    }
  })
})
