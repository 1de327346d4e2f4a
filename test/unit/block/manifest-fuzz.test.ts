// The manifest's differential fuzz, seeded and bounded (test/helpers/manifest-fuzz.ts says what is
// compared; scripts/manifest-fuzz.ts runs it long): blocks of varied user tables with their
// pages, schema rows or file header changed. For every file SQLite's quick_check accepts, each
// fast reading of a table (either leaf encoder, from the file or from bytes held, split into
// chunks as worker threads split it, either hasher) gives the reference's rows and root or
// declines; none throws anything but a decline on any file; the block re-sealed with the
// reference roots gets one verdict from the file and from bytes held (a coded error or the
// reference roots), and the page readers of its reserved tables give SQLite's answer or stand aside.
import { describe, expect, it } from 'vitest'
import { merkleHasher } from '../../../src/crypto/index.js'
import { dropKeptHeld } from '../../../src/block/held-db.js'
import { nativeRows } from '../../../src/block/native-rows.js'
import { newCounts, runMutant } from '../../helpers/manifest-fuzz.js'
import { seedBlock } from '../../helpers/manifest-mutants.js'
import { tmpDir } from '../../helpers/tmp.js'

// Seeds of small blocks that between them have page sizes 512, 1024 and 4096, UTF-8, UTF-16le and UTF-16be, rowid
// tables with and without an alias, WITHOUT ROWID tables, an index and overflow chains.
const SEEDS = [13, 18, 19, 10]
const MUTANTS = 20

describe('the fast manifest path on hostile block files', () => {
  it('gives the reference answer or declines, on every path', async () => {
    const dir = tmpDir()
    dropKeptHeld()
    const counts = newCounts()
    const native = merkleHasher().hasher === 'native'
    const kinds = new Set<number>()
    for (const seed of SEEDS) {
      const s = await seedBlock(dir, seed, true)
      kinds.add(s.pageSize)
      for (let i = 0; i < MUTANTS; i++) {
        const m = await runMutant(dir, s, seed, i, counts, native)
        // Replay: node --import tsx scripts/manifest-fuzz.ts --small --seed SEED --files 1 --only I
        expect(m.found, `--seed ${seed} --only ${i}: ${m.what}`).toEqual([])
      }
    }
    // Not vacuous: most mutants still pass quick_check, and the fast path reads most of their tables.
    expect(counts.mutants).toBe(SEEDS.length * MUTANTS)
    expect(counts.quickOk).toBeGreaterThan(counts.mutants / 3)
    expect(counts.fastAnswered).toBeGreaterThan(counts.quickOk)
    expect(counts.accepted).toBeGreaterThan(counts.mutants / 4)
    expect(kinds.size).toBeGreaterThan(1)
    // The native row walker, when built, read most of what the fast path read (its answers checked against the JavaScript walker's).
    if (nativeRows() !== undefined) expect(counts.nativeAnswered).toBeGreaterThan(counts.fastAnswered / 2)
  }, 120_000)
})
