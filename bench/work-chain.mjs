// The start both in-process work harnesses share (catchup-work.mjs, place-work.mjs), on the built
// dist/: a new data directory in the system's temporary directory holding SRC's genesis, and a
// LoadPool(2) whose threads have loaded block 1 of SRC four times and are ready (their start-up is
// the same for every run length, so it cancels when two lengths are subtracted).
import { copyFileSync, mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { Chain, installGenesis, LoadPool, loadBlock, discardLoaded } from '../dist/chain/index.js'
import { DataDir, readSeal } from '../dist/storage/index.js'

/** `{ source, root, chain, pool, first }`: SRC opened, the new data directory's parent, its chain (genesis only), the warm pool, block 1's path. */
export async function workChain (src, prefix) {
  const source = Chain.open(src)
  const root = mkdtempSync(join(tmpdir(), prefix))
  const g = join(root, 'genesis.db')
  copyFileSync(source.dir.blockPath(0), g)
  copyFileSync(source.dir.blockPath(0).replace(/\.db$/, '.sig'), g.replace(/\.db$/, '.sig'))
  const chain = await installGenesis(new DataDir(join(root, 'data')), source.params, g)
  const pool = new LoadPool(2)
  const first = source.dir.blockPath(1)
  for (let i = 0; i < 4; i++) await discardLoaded(await loadBlock(chain, first, readSeal(first), { loadPool: pool }))
  while (!pool.ready) await new Promise(r => setTimeout(r, 10))
  return { source, root, chain, pool, first }
}
