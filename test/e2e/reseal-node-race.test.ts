import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { petal, spawnPetal } from '../helpers/cli.js'
import { aliceOrphan, mineCopies } from '../helpers/orphan.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// A signatory node's own re-seal pass judges its orphan again under the write lock, where the
// re-seal reads its tip (src/sync/reseal-pass.ts): judged only when it chose the orphan, a node
// whose `petal reseal` by hand re-sealed the same orphan meanwhile (while the node waited for the
// lock, or between its choice and the lock) sealed its rows a second time (review47).

it('a node that chose its orphan while `petal reseal` re-seals it by hand: the rows once', async () => {
  const { dir, m } = await aliceOrphan(petal)
  const pause = join(tmpDir(), 'pause')
  let said = ''
  const node = spawnPetal(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off'], { env: { PETAL_PAUSE: 'reseal:chosen', PETAL_PAUSE_FILE: pause } })
  node.child.stderr?.on('data', (d: Buffer) => { said += d.toString() })
  try {
    await waitFor(() => existsSync(pause), { what: 'the node to choose its orphan for a re-seal', timeout: 60_000 })
    const hand = await petal(['--dir', dir, '--json', 'reseal', m])
    expect(hand.code, hand.stderr).toBe(0)
    rmSync(pause, { force: true })
    // On the old code the node re-sealed it again ("re-sealed orphaned block"): the rows twice.
    await waitFor(() => /content came back while its re-seal waited|re-sealed orphaned block/.test(said), { what: 'the node to end its re-seal of the orphan', timeout: 60_000 })
    expect(said).toContain('content came back while its re-seal waited')
    node.child.kill('SIGINT')
    expect((await node.exit).code, said).toBe(0)
  } finally {
    rmSync(pause, { force: true })
    node.child.kill('SIGKILL')
  }
  expect(mineCopies(dir), 'the orphan\'s rows once on the canonical chain').toBe(1)
}, 120_000)
