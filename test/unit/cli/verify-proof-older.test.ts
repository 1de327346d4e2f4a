import { join } from 'node:path'
import { expect, it } from 'vitest'
import { makeSqlite } from '../../helpers/chain.js'
import { hintOf, petalInProcess } from '../../helpers/cli.js'
import { tmpDir } from '../../helpers/tmp.js'

// A reader kept a row's proof, then saved the node's newer checkpoint to trust (docs/api.md: "save
// `note` to trust it later") and checked the old proof against it: CONSISTENCY_MISSING, whose hint
// said the proof "is against a later checkpoint than the one trusted", the reverse of the case
// (user50). The hint now fits both directions, and its advice works.
it('a proof against an earlier checkpoint than the one trusted: the hint does not call it later, and trusting the keys works', async () => {
  const dir = join(tmpDir(), 'd')
  expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
  expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'a.db'), 3)])).code).toBe(0)
  const proof = join(tmpDir(), 'row.json')
  const made = await petalInProcess(['--dir', dir, 'prove', '--height', '1', '--table', 't', '--rowid', '1', '-o', proof])
  expect(made.code, made.stderr).toBe(0)
  expect((await petalInProcess(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'b.db'), 3, 10)])).code).toBe(0)
  const newer = join(tmpDir(), 'newer.cp')
  expect((await petalInProcess(['--dir', dir, 'checkpoint', '-o', newer])).code).toBe(0)
  const r = await petalInProcess(['verify-proof', proof, '--trust', newer])
  expect(r.code).toBe(6)
  expect(r.stdout).toContain('[CONSISTENCY_MISSING]')
  expect(r.stdout).toMatch(/trusted checkpoint \(size 3\) and its own \(size 2\)/)
  const hint = hintOf(r.stderr)
  expect(hint).not.toContain('against a later checkpoint')
  expect(hint).toContain('(later or earlier)')
  const key = join(tmpDir(), 'key.pem')
  expect((await petalInProcess(['--dir', dir, 'keys', 'export', '-o', key])).code).toBe(0)
  const ok = await petalInProcess(['verify-proof', proof, '--trust', key])
  expect(ok.code, ok.stderr).toBe(0)
}, 60_000)
