// Placement's per-block work on the main thread, on the built dist/ (`npm run build`): the blocks of
// a chain built by bench/catchup-work.mjs (SRC) are copied into tmp/, checked on a warm LoadPool(2)
// as a catch-up checks them, then placed by importBatch in groups of G (default 64; a pull's groups
// are 64-128). No download and no scheduler: what the main thread does per block is the placement
// and the pool's messages. For instruction counts run two lengths under callgrind and subtract the
// main thread's (docs/performance/catchup.md, "Session 29: catch-up"):
//   valgrind --tool=callgrind --separate-threads=yes node bench/place-work.mjs SRC 128 [G]   (and 640)
import '../dist/polyfills.js'
import { copyFileSync } from 'node:fs'
import { importBatch, loadBlock } from '../dist/chain/index.js'
import { tmpBlockPath } from '../dist/storage/index.js'
import { workChain } from './work-chain.mjs'

const [src, nArg, gArg] = process.argv.slice(2)
const N = Number(nArg); const G = Number(gArg ?? 64)
const { source, root, chain, pool } = await workChain(src, 'place-work-')
let placeMs = 0; let groups = 0
for (let from = 1; from <= N; from += G) {
  const blocks = source.index.range(from, Math.min(from + G - 1, N))
  const loaded = await Promise.all(blocks.map(async b => {
    const tmp = tmpBlockPath(chain.dir)
    copyFileSync(source.pathOf(b), tmp)
    return await loadBlock(chain, tmp, b.seal, { expectedHash: b.hash, hashed: true, consume: true, loadPool: pool })
  }))
  const t = performance.now()
  const out = await importBatch(chain, loaded)
  placeMs += performance.now() - t; groups++
  if (out.failure !== undefined) throw out.failure.error
}
process.stderr.write(`placed ${N} blocks in ${groups} groups, ${(placeMs / N).toFixed(3)} ms a block of placement\n`)
await pool.close(); chain.close(); source.close()
process.stderr.write(`data directory left in ${root}\n`)
