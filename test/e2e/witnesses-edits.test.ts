import { describe, expect, it } from 'vitest'
import { existsSync, lstatSync, mkdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { witnessKeyOf } from '../../src/proof/index.js'
import { hintOf, petal, petalInProcess, spawnPetal } from '../helpers/cli.js'
import { fixtureKey } from '../helpers/chain.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// `petal witnesses add|remove` at the same time (user52): each read the file, changed it and put it
// in place by rename, without a lock, so the second rename dropped the first's line (witness51 left
// it). They now take witnesses.lock around the read and the rename.

const w1 = { name: 'witness.example/w1', key: fixtureKey('carol') }
const w2 = { name: 'witness.example/w2', key: fixtureKey('bob') }

/**
 * `witnesses add` of w1 on `dir1`, stopped between its read of the file and its rename (a test-only
 * pause point), then of w2 on `dir2`: the second must wait for the first (it says so, naming it),
 * and both end 0 once the first goes on. The two verifier keys, for the caller to find in the file.
 */
async function twoAdds (dir1: string, dir2: string): Promise<{ k1: string, k2: string }> {
  const [k1, k2] = [await witnessKeyOf(w1), await witnessKeyOf(w2)]
  const pause = join(tmpDir(), 'pause')
  const first = spawnPetal(['--dir', dir1, 'witnesses', 'add', k1], { env: { PETAL_PAUSE: 'witnesses:read', PETAL_PAUSE_FILE: pause } })
  await waitFor(() => existsSync(pause), { what: 'the first add to read the file' })
  const second = spawnPetal(['--dir', dir2, 'witnesses', 'add', k2])
  let secondDone = false
  void second.exit.then(() => { secondDone = true })
  let err = ''
  second.child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  await waitFor(() => err.includes('waiting for another `petal witnesses` edit') || secondDone, { what: 'the second add to wait' })
  expect(secondDone).toBe(false)
  expect(err).toContain(`(pid ${first.child.pid ?? '?'})`)
  rmSync(pause)
  const [a, b] = [await first.exit, await second.exit]
  expect(a.code, a.stderr).toBe(0)
  expect(b.code, b.stderr).toBe(0)
  return { k1, k2 }
}

describe('petal witnesses: edits at the same time', () => {
  it('two adds in two processes both land: the second waits for the first, and says so', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const { k1, k2 } = await twoAdds(dir, dir)
    expect(readFileSync(join(dir, 'witnesses'), 'utf8')).toBe(`${k1}\n${k2}\n`)
  })

  it('a directory where the file belongs: a coded error whose hint, followed, mends it', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    mkdirSync(join(dir, 'witnesses'))
    const r = await petal(['--dir', dir, 'witnesses', 'add', await witnessKeyOf(w1)])
    expect(r.code).toBe(4)
    expect(r.stderr).toContain(`${join(dir, 'witnesses')} is a directory`)
    expect(r.stderr).toContain('[PROOF_WITNESSES_UNREADABLE]')
    expect(hintOf(r.stderr)).toContain('move it out of the way')
    rmdirSync(join(dir, 'witnesses'))
    expect((await petal(['--dir', dir, 'witnesses', 'add', await witnessKeyOf(w1)])).code).toBe(0)
  })

  // A `witnesses` link's file (a list shared by nodes) is edited from each node's directory: with the
  // lock in each directory, an edit from the second did not wait for one from the first, and the
  // first's rename then dropped the second's line (review52b). The lock is now beside the file.
  it('two adds through two directories\' links to one shared list both land: the second waits for the first', async () => {
    const [d1, d2] = [join(tmpDir(), 'one'), join(tmpDir(), 'two')]
    for (const d of [d1, d2]) expect((await petalInProcess(['--dir', d, 'init'])).code).toBe(0)
    const shared = join(tmpDir(), 'witnesses.shared')
    writeFileSync(shared, '# shared by both nodes\n')
    for (const d of [d1, d2]) symlinkSync(shared, join(d, 'witnesses'))
    const { k1, k2 } = await twoAdds(d1, d2)
    expect(readFileSync(shared, 'utf8')).toBe(`# shared by both nodes\n${k1}\n${k2}\n`)
    for (const d of [d1, d2]) expect(lstatSync(join(d, 'witnesses')).isSymbolicLink()).toBe(true)
  })
})
