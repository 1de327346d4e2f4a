import { expect, it } from 'vitest'
import { petalInProcess } from '../../helpers/cli.js'
import { aliceOrphan, mineCopies } from '../../helpers/orphan.js'

// `petal reseal HASH` of an orphan whose content is already on the canonical chain (re-sealed
// by a node or by hand before, or its own block back with a reorg) is refused: it re-sealed
// whatever it was given, and a second re-seal put the rows on the chain twice (docs46's finding).
// The rule is the node's own (pendingOrphans); --force re-seals anyway.

it('a second re-seal of one orphan is ORPHAN_CONTENT_BACK (exit 2), with a hint that works', async () => {
  const { dir, m } = await aliceOrphan(petalInProcess)

  const first = await petalInProcess(['--dir', dir, '--json', 'reseal', m])
  expect(first.code, first.stderr).toBe(0)
  const again = await petalInProcess(['--dir', dir, 'reseal', m])
  expect(again.code, again.stdout).toBe(2)
  expect(again.stderr).toContain('[ORPHAN_CONTENT_BACK]')
  expect(again.stderr).toContain(`\`petal --dir ${dir} reseal ${m} --force\``)
  expect(mineCopies(dir), 'the rows once on the canonical chain').toBe(1)
  // The hint, followed: sealed again on purpose.
  const forced = await petalInProcess(['--dir', dir, 'reseal', m, '--force'])
  expect(forced.code, forced.stderr).toBe(0)
  expect(mineCopies(dir)).toBe(2)
}, 60_000)

it('--force on an orphan whose content is not back is its re-seal, recorded: a re-seal after it is ORPHAN_CONTENT_BACK (review48: unrecorded, the node\'s rule re-sealed it again, the rows twice)', async () => {
  const { dir, m } = await aliceOrphan(petalInProcess)
  const forced = await petalInProcess(['--dir', dir, 'reseal', m, '--force'])
  expect(forced.code, forced.stderr).toBe(0)
  expect(mineCopies(dir)).toBe(1)
  const again = await petalInProcess(['--dir', dir, 'reseal', m])
  expect(again.code, again.stdout).toBe(2)
  expect(again.stderr).toContain('[ORPHAN_CONTENT_BACK]')
  expect(mineCopies(dir), 'the rows once on the canonical chain').toBe(1)
}, 60_000)
