// A block's whole structural check (readBlockFile on the bytes held in memory, as a pull's load
// thread runs it: quick_check, schema, `_meta`, `_keys`, the manifest) alone, in rounds over the
// same blocks, CPU a block: the first round pays the checks' compilation, the later ones show a
// warm block's cost (docs/performance/pull.md, "Session 49: the pipeline beside placement (pull49)").
//   node --import tsx bench/checks-rounds.ts CHAIN_DIR [BLOCKS=100] [ROUNDS=4]
import '../src/polyfills.js'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readBlockFile } from '../src/block/index.js'
import { Chain } from '../src/chain/index.js'

const [dir, count = '100', rounds = '4'] = process.argv.slice(2)
if (dir === undefined) throw new Error('usage: checks-rounds.ts CHAIN_DIR [BLOCKS] [ROUNDS]')
const chain = Chain.open(dir)
const blocks: Array<{ path: string, bytes: Buffer }> = []
try {
  for (let h = 1; h <= Math.min(Number(count), chain.tip().height); h++) {
    const r = chain.get(h)
    if (r === undefined) break
    blocks.push({ path: chain.pathOf(r), bytes: readFileSync(chain.pathOf(r)) })
  }
} finally {
  chain.close()
}
// Read once before timing: on this project's VM a page the kernel wrote costs again at the
// process's first read of it (sync-floor.ts), which a load thread's reused buffer does not pay.
for (const b of blocks) createHash('sha256').update(b.bytes).digest()
for (let round = 0; round < Number(rounds); round++) {
  const c = process.cpuUsage()
  for (const b of blocks) await readBlockFile(b.path, { maxBytes: Number.MAX_SAFE_INTEGER, bytes: b.bytes, head: { bytes: b.bytes.subarray(0, 4096), size: b.bytes.byteLength } })
  const u = process.cpuUsage(c)
  process.stdout.write(`round ${round}: ${((u.user + u.system) / 1000 / blocks.length).toFixed(2)} ms of CPU a block (user ${(u.user / 1000 / blocks.length).toFixed(2)}), ${blocks.length} blocks\n`)
}
