// The wire decoders' differential fuzz, seeded and bounded (test/helpers/wire-fuzz.ts says what is
// compared; scripts/wire-fuzz.ts runs it long): every kind of message, as the code encodes it,
// cut at every byte and mutated (bytes, UTF-8, JSON types and spellings, repeated and reordered
// keys, deep nesting, long strings, sizes at the limit); the code's decoding (gossip's validators
// included) agrees with the reference of docs/protocol.md, "Messages", and refuses only with a
// coded MALFORMED or OVERSIZED, for which the sender of an announcement is scored down.
import { describe, expect, it } from 'vitest'
import { fixtureKey } from '../../helpers/chain.js'
import { compare, KINDS, mutant, newWireCounts, seedOf } from '../../helpers/wire-fuzz.js'

const SEEDS = [1, 2]
const MUTANTS = 80

describe('the wire decoders on hostile bytes', () => {
  it('decode what the reference decodes, and refuse the rest with its code', () => {
    const key = fixtureKey('alice')
    const counts = newWireCounts()
    const found: string[] = []
    const check = (f: string[], replay: string): void => { if (f.length > 0) found.push(`${replay}: ${f.join('; ')}`) }
    for (const seed of SEEDS) {
      for (const kind of KINDS) {
        const s = seedOf(key, kind, seed)
        check(compare(kind, s.bytes, s.req, counts), `${kind} seed ${seed}`)
        // Replay: node --import tsx scripts/wire-fuzz.ts --seed SEED --seeds 1 --kind KIND
        if (seed === SEEDS[0]) for (let n = 0; n < s.bytes.length; n++) check(compare(kind, s.bytes.subarray(0, n), s.req, counts), `--seed ${seed} --seeds 1 --kind ${kind} (cut at ${n})`)
        for (let i = 0; i < MUTANTS; i++) {
          const m = mutant(key, kind, seed, i, counts)
          // Replay: node --import tsx scripts/wire-fuzz.ts --seed SEED --seeds 1 --kind KIND --only I
          check(compare(kind, m.bytes, m.req, counts), `--seed ${seed} --seeds 1 --kind ${kind} --only ${i} (${m.what})`)
        }
      }
    }
    expect(found).toEqual([])
    // Not vacuous: every kind accepted some mutants and refused others, for both reasons.
    for (const kind of KINDS) expect(counts.accepted[kind], kind).toBeGreaterThan(SEEDS.length)
    expect(counts.codes.MALFORMED).toBeGreaterThan(1000)
    expect(counts.codes.OVERSIZED).toBeGreaterThan(50)
    expect(counts.codes.REJECTED).toBeGreaterThan(10)
    expect(Object.keys(counts.codes).filter(c => c.startsWith('uncoded'))).toEqual([])
  })
})
