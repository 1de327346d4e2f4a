import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { QUORUM_RULES, type QuorumRule } from '../../src/block/index.js'
import { PRUNE_EVERY } from '../../src/chain/accept.js'
import { isBetterTip, MAX_FUTURE_MS, quorumFor } from '../../src/chain/index.js'

// docs/consensus.md's numbers, read from the document as written, against src/chain: the quorum
// rules' worked numbers, the prose's examples of Daisy's rule, the future-timestamp guard, the
// pruning interval and fork choice's tie-break.
const doc = readFileSync(resolve(import.meta.dirname, '../../docs/consensus.md'), 'utf8')
const flat = doc.replace(/\s+/g, ' ')
const num = (s: string): number => Number(s.replace(/,/g, ''))

describe('docs/consensus.md against src/chain', () => {
  it('"Key operations and quorum": every row of the worked numbers is quorumFor\'s', () => {
    const header = '| H | A | `daisy` | `daisy-capped` | `majority` |'
    const lines = doc.split('\n')
    const start = lines.indexOf(header)
    expect(start, 'the worked-numbers table').toBeGreaterThanOrEqual(0)
    const rules = header.split('|').slice(3, -1).map(c => c.trim().replace(/`/g, '') as QuorumRule)
    expect([...rules].sort()).toEqual([...QUORUM_RULES].sort())
    const rows = lines.slice(start + 2).filter((l, i, all) => all.slice(0, i + 1).every(x => x.startsWith('|')))
    expect(rows.length).toBeGreaterThanOrEqual(5)
    for (const row of rows) {
      const [h = '', a = '', ...qs] = row.split('|').slice(1, -1).map(c => c.trim())
      rules.forEach((rule, i) => expect(quorumFor(rule, num(h), num(a)), `${rule} at H = ${h}, A = ${a}`).toBe(num(qs[i] ?? '')))
    }
  })

  it('"Key operations and quorum": the rule table\'s examples of Daisy\'s formula', () => {
    const m = /From height (\d+) a key change needs (\d+) endorsers, (\d+) at H = ([\d,]+)/.exec(flat)
    expect(m, 'the daisy row\'s examples').not.toBeNull()
    const [, from = '', q = '', q2 = '', h2 = ''] = m ?? []
    expect(quorumFor('daisy', num(from), 1)).toBe(num(q))
    expect(quorumFor('daisy', num(from) - 1, 1)).toBe(1)
    expect(flat).toContain(`1 if H < ${from}, else ⌊2·ln H⌋`)
    expect(quorumFor('daisy', num(h2), 1)).toBe(num(q2))
    // Whatever the number of signatories: a chain with fewer freezes, the capped rule does not.
    expect(quorumFor('daisy', num(from), 3)).toBe(num(q))
    expect(quorumFor('daisy-capped', num(from), 3)).toBe(3)
  })

  it('"Validation pipeline" and "Fork choice": the clock guard, pruning and the tie-break', () => {
    expect(flat).toContain(`at most ${MAX_FUTURE_MS / 60_000} minutes ahead of the local clock`)
    expect(flat).toContain(`can never win and are pruned every ${PRUNE_EVERY} blocks`)
    expect(flat).toContain('at equal height, the tip with the lower hash (as a hex string) wins')
    expect(isBetterTip({ height: 5, hash: 'a0' }, { height: 5, hash: 'b0' })).toBe(true)
    expect(isBetterTip({ height: 5, hash: 'ff' }, { height: 4, hash: '00' })).toBe(true)
  })
})
