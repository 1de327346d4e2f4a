import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { petal, spawnPetal } from '../helpers/cli.js'
import { aliceOrphan, mineCopies } from '../helpers/orphan.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// `petal reseal HASH` judges whether the orphan's content is already on the canonical chain
// (ORPHAN_CONTENT_BACK, 0637cfa) under the write lock, where the re-seal reads its tip: judged
// before it, a second re-seal that waited for the lock while the first one (by hand, or a node's
// own) held it found the orphan still pending, then sealed its rows a second time (review47).

it('a re-seal that waits for the lock while another re-seals the same orphan: ORPHAN_CONTENT_BACK, the rows once', async () => {
  const { dir, m } = await aliceOrphan(petal)

  // The first re-seal, held with the write lock taken and its block built.
  const pause = join(tmpDir(), 'pause')
  const first = spawnPetal(['--dir', dir, '--json', 'reseal', m], { env: { PETAL_PAUSE: 'sign-import:locked', PETAL_PAUSE_FILE: pause } })
  let second: ReturnType<typeof spawnPetal> | undefined
  try {
    await waitFor(() => existsSync(pause), { what: 'the first re-seal to hold the write lock' })
    // The second, while the first holds the lock: it waits for it (and says so).
    let said = ''
    second = spawnPetal(['--dir', dir, 'reseal', m, '--wait', '60'])
    second.child.stderr?.on('data', (d: Buffer) => { said += d.toString() })
    await waitFor(() => /waiting for/.test(said), { what: 'the second re-seal to wait for the lock' })
    rmSync(pause, { force: true })
    const a = await first.exit
    expect(a.code, a.stderr).toBe(0)
    const b = await second.exit
    expect(b.code, b.stdout + b.stderr).toBe(2)
    expect(b.stderr).toContain('[ORPHAN_CONTENT_BACK]')
  } finally {
    rmSync(pause, { force: true })
    first.child.kill('SIGKILL')
    second?.child.kill('SIGKILL')
  }
  expect(mineCopies(dir), 'the orphan\'s rows once on the canonical chain').toBe(1)
}, 90_000)
