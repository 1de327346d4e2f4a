// The manifest's differential fuzz through a node's pool (test/helpers/manifest-fuzz.ts,
// comparePool): a block with a rowid table of 66,000 rows, which tableRootParallel splits into
// 2^14-row chunks that the TableRootPool's two worker threads take (and, where the fast path
// declines, into the reference's SQL chunks over the same threads), from the file and from bytes
// held, and its re-sealed block validated with the pool. Each gives the reference's root or a
// coded error. Two mutants only (about a second of CPU each: the reference reads every row
// through SQLite); long runs: node --import tsx scripts/manifest-fuzz.ts --small --pool 66000.
import { afterAll, describe, expect, it } from 'vitest'
import { TableRootPool } from '../../../src/block/index.js'
import { dropKeptHeld } from '../../../src/block/held-db.js'
import { newCounts, runMutant } from '../../helpers/manifest-fuzz.js'
import { seedBlock } from '../../helpers/manifest-mutants.js'
import { tmpDir } from '../../helpers/tmp.js'

const SEED = 1
const MUTANTS = 2

describe('the fast manifest path on hostile block files, through the pool', () => {
  const pool = new TableRootPool(2)
  afterAll(async () => { await pool.close() })

  it('gives the reference answer or a coded error', async () => {
    const dir = tmpDir()
    dropKeptHeld()
    const counts = newCounts()
    const s = await seedBlock(dir, SEED, true, 66_000)
    for (let i = 0; i < MUTANTS; i++) {
      const m = await runMutant(dir, s, SEED, i, counts, false, { pool })
      // Replay: node --import tsx scripts/manifest-fuzz.ts --small --pool 66000 --seed SEED --files 1 --only I
      expect(m.found, `--seed ${SEED} --only ${i}: ${m.what}`).toEqual([])
    }
    // Not vacuous: the large table of each mutant went through the threads.
    expect(counts.pooled).toBe(MUTANTS)
    expect(counts.accepted).toBe(MUTANTS)
    expect(pool.alive).toBe(2)
  }, 120_000)
})
