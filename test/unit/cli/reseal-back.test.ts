import { cpSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { Chain, signImport } from '../../../src/chain/index.js'
import { Keystore } from '../../../src/storage/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { petalInProcess } from '../../helpers/cli.js'
import { tmpDir } from '../../helpers/tmp.js'

// `petal reseal HASH` of an orphan whose content is already on the canonical chain (re-sealed
// by a node or by hand before, or its own block back with a reorg) is refused: it re-sealed
// whatever it was given, and a second re-seal put the rows on the chain twice (docs46's finding).
// The rule is the node's own (pendingOrphans); --force re-seals anyway.

const alice = fixtureKey('alice')

it('a second re-seal of one orphan is ORPHAN_CONTENT_BACK (exit 2), with a hint that works', async () => {
  const { chain, dir } = await newTestChain({ key: alice })
  chain.close()
  new Keystore(join(dir, 'keystore')).import(readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'keys', 'alice.pem'), 'utf8'))
  const other = join(tmpDir(), 'other')
  cpSync(dir, other, { recursive: true })
  const c = Chain.open(other)
  try {
    for (let i = 0; i < 2; i++) await signImport(c, makeSqlite(join(tmpDir(), 'g.db'), 2, 50 + i), alice)
  } finally {
    c.close()
  }
  const mine = await petalInProcess(['--dir', dir, '--json', 'signimportblock', makeSqlite(join(tmpDir(), 'm.db'), 5, 1, 'mine')])
  expect(mine.code, mine.stderr).toBe(0)
  const m = (JSON.parse(mine.stdout) as { hash: string }).hash
  expect((await petalInProcess(['--dir', dir, 'import', '--from', other])).code).toBe(0)

  const first = await petalInProcess(['--dir', dir, '--json', 'reseal', m])
  expect(first.code, first.stderr).toBe(0)
  const again = await petalInProcess(['--dir', dir, 'reseal', m])
  expect(again.code, again.stdout).toBe(2)
  expect(again.stderr).toContain('[ORPHAN_CONTENT_BACK]')
  expect(again.stderr).toContain(`\`petal --dir ${dir} reseal ${m} --force\``)
  const tables = (): number => {
    const ch = Chain.open(dir, { readonly: true })
    try {
      return ch.index.range(1, ch.tip().height, ch.tip().height).filter(b => ch.index.tablesOf(b.hash).some(t => t.name === 'mine')).length
    } finally {
      ch.close()
    }
  }
  expect(tables(), 'the rows once on the canonical chain').toBe(1)
  // The hint, followed: sealed again on purpose.
  const forced = await petalInProcess(['--dir', dir, 'reseal', m, '--force'])
  expect(forced.code, forced.stderr).toBe(0)
  expect(tables()).toBe(2)
}, 60_000)
