// Run as a process: `bytes-import.ts DIR FROM` imports FROM's canonical blocks above DIR's tip as
// catch-up does with the small blocks of a range: each handed to a load thread as bytes (the
// thread creates its file and, once checked, its .sig, neither fsynced), then placed as one group
// (importBatch flushes both, journals, moves, commits). Crash tests run it with PETAL_FAILPOINT.
import '../../src/polyfills.js'
import { readFileSync } from 'node:fs'
import { Chain, discardLoaded, importBatch, loadBlock, LoadPool } from '../../src/chain/index.js'
import { sha256Hex } from '../../src/crypto/index.js'
import { DataDir, readSeal, tmpBlockPath } from '../../src/storage/index.js'

const [dir, from] = process.argv.slice(2) as [string, string]
const chain = Chain.open(dir)
const source = new DataDir(from)
const pool = new LoadPool(1)
const tip = chain.tip().height
// Until a thread is up, blocks are checked here: warm the pool with a copy of the first block.
const first = source.blockPath(tip + 1)
await discardLoaded(await loadBlock(chain, first, readSeal(first), { loadPool: pool }))
while (!pool.ready) await new Promise(resolve => setTimeout(resolve, 10))
const loaded = []
for (let h = tip + 1; ; h++) {
  let bytes: Uint8Array
  try { bytes = new Uint8Array(readFileSync(source.blockPath(h))) } catch { break }
  const b = await loadBlock(chain, tmpBlockPath(chain.dir), readSeal(source.blockPath(h)), { expectedHash: sha256Hex(bytes), hashed: true, consume: true, bytes, loadPool: pool })
  if (b.sealWritten !== true) throw new Error(`block ${h} was not written by a load thread`)
  loaded.push(b)
}
const r = await importBatch(chain, loaded)
if (r.failure !== undefined) throw r.failure.error
await pool.close()
chain.close()
process.stdout.write(`imported ${r.results.length}\n`)
