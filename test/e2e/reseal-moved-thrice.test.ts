import { cpSync, existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { petal, spawnPetal } from '../helpers/cli.js'
import { Chain, signImport } from '../../src/chain/index.js'
import { fixtureKey, makeSqlite } from '../helpers/chain.js'
import { aliceOrphan, mineCopies } from '../helpers/orphan.js'
import { tmpDir } from '../helpers/tmp.js'
import { sleep } from '../../src/util/index.js'
import { waitFor } from '../helpers/wait.js'

// `petal reseal --force` judges at the acceptance, under the write lock, whether the orphan's content
// is back, and builds its block again for what holds then (review50, review51). It did so twice; at
// its third turn it accepted whatever it had built: a marked copy beside another canonical marked
// copy of the same origin (the rows twice, the rule's "impossible" case), or an unmarked, unrecorded
// re-seal of content not back. The chain is moved here between each of its turns (review51b).
it('reseal --force whose orphan\'s content comes back, goes and comes back between its turns seals what holds at its acceptance', async () => {
  const alice = fixtureKey('alice')
  const { dir, m } = await aliceOrphan(petal)
  const base = join(tmpDir(), 'base')
  cpSync(dir, base, { recursive: true })
  // A branch of two blocks from here, which a reorg will make canonical (longer than a copy's).
  const alt = Chain.open(base)
  const files: string[] = []
  try {
    for (let i = 0; i < 2; i++) files.push(alt.pathOf((await signImport(alt, makeSqlite(join(tmpDir(), `alt${i}.db`), 2, 80 + i), alice)).block))
  } finally { alt.close() }

  const held = join(tmpDir(), 'held')
  const moved = join(tmpDir(), 'moved')
  // A re-seal by hand holds the lock, its copy built; the forced one (judging the orphan pending) waits.
  const hand = spawnPetal(['--dir', dir, '--json', 'reseal', m], { env: { PETAL_PAUSE: 'sign-import:locked', PETAL_PAUSE_FILE: held } })
  let forced: ReturnType<typeof spawnPetal> | undefined
  try {
    await waitFor(() => existsSync(held), { what: 'the re-seal by hand to hold the write lock' })
    let said = ''
    forced = spawnPetal(['--dir', dir, 'reseal', m, '--force', '--wait', '60'], { env: { PETAL_PAUSE: 'reseal:moved', PETAL_PAUSE_FILE: moved } })
    forced.child.stderr?.on('data', (d: Buffer) => { said += d.toString() })
    await waitFor(() => /waiting for/.test(said), { what: 'the forced re-seal to wait for the lock' })
    rmSync(held, { force: true })
    expect((await hand.exit).code).toBe(0)
    // Turn 1: built as the copy, the content back (the hand's copy): built again unmarked.
    await waitFor(() => existsSync(moved), { what: 'the forced re-seal\'s first turn to find the content back' })
    // A reorg orphans the hand's copy: the content is not back.
    for (const f of files) expect((await petal(['--dir', dir, 'import', f])).code).toBe(0)
    expect(mineCopies(dir)).toBe(0)
    rmSync(moved, { force: true })
    // Turn 2: built unmarked, the content not back: built again as the copy.
    await waitFor(() => existsSync(moved), { what: 'the forced re-seal\'s second turn to find the content gone' })
    // Another re-seal by hand brings the content back, as a marked copy.
    const again = await petal(['--dir', dir, '--json', 'reseal', m])
    expect(again.code, again.stderr).toBe(0)
    expect(mineCopies(dir)).toBe(1)
    // Turn 3 and on: whatever holds decides.
    let done = false
    const b = forced.exit.finally(() => { done = true })
    rmSync(moved, { force: true })
    while (!done) { rmSync(moved, { force: true }); await sleep(50) }
    const out = await b
    expect(out.code, out.stdout + out.stderr).toBe(0)
    const hash = /^re-sealed \S+ as block \d+ ([0-9a-f]{64})$/m.exec(out.stdout)?.[1]
    const block = await petal(['--dir', dir, '--json', 'block', hash ?? ''])
    expect(block.code, block.stderr).toBe(0)
    // The content was back at its acceptance: --force's own publication, unmarked, beside the copy.
    expect((JSON.parse(block.stdout) as { reseal_of?: string }).reseal_of, 'no second marked copy of the orphan').toBeUndefined()
    expect(mineCopies(dir), 'forced: the rows twice, as asked').toBe(2)
  } finally {
    rmSync(held, { force: true })
    rmSync(moved, { force: true })
    hand.child.kill('SIGKILL')
    forced?.child.kill('SIGKILL')
  }
}, 180_000)
