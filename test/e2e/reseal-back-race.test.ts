import { cpSync, existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { petal, spawnPetal } from '../helpers/cli.js'
import { Chain, signImport } from '../../src/chain/index.js'
import { fixtureKey, makeSqlite } from '../helpers/chain.js'
import { aliceOrphan, mineCopies } from '../helpers/orphan.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// `petal reseal HASH` judges whether the orphan's content is already on the canonical chain
// (ORPHAN_CONTENT_BACK, 0637cfa) under the write lock, where the re-seal reads its tip: judged
// before it, a second re-seal that waited for the lock while the first one (by hand, or a node's
// own) held it found the orphan still pending, then sealed its rows a second time (review47).

type Exit = Awaited<ReturnType<typeof spawnPetal>['exit']>

/** `petal reseal m` held with the write lock taken and its block built, while `second` (a reseal of m that waits for the lock) starts; then both end. */
async function reseals (dir: string, m: string, second: string[]): Promise<{ a: Exit, b: Exit }> {
  const pause = join(tmpDir(), 'pause')
  const first = spawnPetal(['--dir', dir, '--json', 'reseal', m], { env: { PETAL_PAUSE: 'sign-import:locked', PETAL_PAUSE_FILE: pause } })
  let waiting: ReturnType<typeof spawnPetal> | undefined
  try {
    await waitFor(() => existsSync(pause), { what: 'the first re-seal to hold the write lock' })
    // The second, while the first holds the lock: it waits for it (and says so).
    let said = ''
    waiting = spawnPetal(['--dir', dir, 'reseal', m, '--wait', '60', ...second])
    waiting.child.stderr?.on('data', (d: Buffer) => { said += d.toString() })
    await waitFor(() => /waiting for/.test(said), { what: 'the second re-seal to wait for the lock' })
    rmSync(pause, { force: true })
    return { a: await first.exit, b: await waiting.exit }
  } finally {
    rmSync(pause, { force: true })
    first.child.kill('SIGKILL')
    waiting?.child.kill('SIGKILL')
  }
}

it('a re-seal that waits for the lock while another re-seals the same orphan: ORPHAN_CONTENT_BACK, the rows once', async () => {
  const { dir, m } = await aliceOrphan(petal)
  const { a, b } = await reseals(dir, m, [])
  expect(a.code, a.stderr).toBe(0)
  expect(b.code, b.stdout + b.stderr).toBe(2)
  expect(b.stderr).toContain('[ORPHAN_CONTENT_BACK]')
  expect(mineCopies(dir), 'the orphan\'s rows once on the canonical chain').toBe(1)
}, 90_000)

// `--force` that judged the orphan pending builds its block as the orphan's copy, marked `re-seal
// of <origin>`. The first re-seal brought the content back meanwhile, and --force goes on: it went
// on with the marked block, two marked copies of one origin both canonical, which
// docs/consensus.md says cannot happen. It is now built again unmarked, a publication of its own,
// as --force of content already back is (review50).
it('reseal --force whose orphan came back while it waited for the lock seals an unmarked publication, not a second marked copy', async () => {
  const { dir, m } = await aliceOrphan(petal)
  const { a, b } = await reseals(dir, m, ['--force'])
  expect(a.code, a.stderr).toBe(0)
  expect(b.code, b.stdout + b.stderr).toBe(0)
  const mark = async (hash: string | undefined): Promise<unknown> => {
    const r = await petal(['--dir', dir, '--json', 'block', hash ?? ''])
    expect(r.code, r.stderr).toBe(0)
    return (JSON.parse(r.stdout) as { reseal_of?: string }).reseal_of
  }
  expect(await mark((JSON.parse(a.stdout) as { hash: string }).hash)).toBe(m)
  expect(await mark(/^re-sealed \S+ as block \d+ ([0-9a-f]{64})$/m.exec(b.stdout)?.[1]), 'the forced block is no copy: unmarked').toBeUndefined()
  expect(mineCopies(dir), 'forced: the rows twice, as asked').toBe(2)
}, 90_000)

// The other way (review51): --force on an orphan whose copy was canonical (the content back) builds
// its block unmarked. A reorg that orphans the copy while it waits for the lock leaves the content
// not back when the block is accepted: unmarked and unrecorded, the node's pass re-sealed the
// orphan as well, its rows twice. It is now built again as the copy, marked and recorded.
it('reseal --force whose orphan\'s copy a reorg orphaned while it waited for the lock seals the marked, recorded copy', async () => {
  const alice = fixtureKey('alice')
  const { dir, m } = await aliceOrphan(petal)
  const base = join(tmpDir(), 'base')
  cpSync(dir, base, { recursive: true })
  const copy = await petal(['--dir', dir, '--json', 'reseal', m])
  expect(copy.code, copy.stderr).toBe(0)
  const c = (JSON.parse(copy.stdout) as { hash: string }).hash
  // A branch of two blocks beside the copy (height 3): its first loses the tie to the copy (the
  // lower hash wins), so it is stored as a side block; its second makes the branch longer.
  const files: string[] = []
  for (let i = 0; files.length === 0; i++) {
    const alt = join(tmpDir(), `alt${i}`)
    cpSync(base, alt, { recursive: true })
    const ch = Chain.open(alt)
    try {
      const h3 = await signImport(ch, makeSqlite(join(tmpDir(), `a${i}.db`), 2, 70 + i), alice)
      if (h3.block.hash < c) continue
      const h4 = await signImport(ch, makeSqlite(join(tmpDir(), `b${i}.db`), 2, 90 + i), alice)
      files.push(ch.pathOf(h3.block), ch.pathOf(h4.block))
    } finally { ch.close() }
  }
  const side = await petal(['--dir', dir, 'import', files[0] as string])
  expect(side.code, side.stderr).toBe(0)
  expect(mineCopies(dir), 'the copy is still canonical').toBe(1)
  const pause = join(tmpDir(), 'pause')
  const reorg = spawnPetal(['--dir', dir, 'import', files[1] as string], { env: { PETAL_PAUSE: 'import:locked', PETAL_PAUSE_FILE: pause } })
  let forced: ReturnType<typeof spawnPetal> | undefined
  try {
    await waitFor(() => existsSync(pause), { what: 'the reorg to hold the write lock' })
    let said = ''
    forced = spawnPetal(['--dir', dir, 'reseal', m, '--force', '--wait', '60'])
    forced.child.stderr?.on('data', (d: Buffer) => { said += d.toString() })
    await waitFor(() => /waiting for/.test(said), { what: 'the forced re-seal to wait for the lock' })
    rmSync(pause, { force: true })
    const a = await reorg.exit
    const b = await forced.exit
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stdout + b.stderr).toBe(0)
    const hash = /^re-sealed \S+ as block \d+ ([0-9a-f]{64})$/m.exec(b.stdout)?.[1]
    const block = await petal(['--dir', dir, '--json', 'block', hash ?? ''])
    expect((JSON.parse(block.stdout) as { reseal_of?: string }).reseal_of, 'the forced block is the copy now: marked').toBe(m)
    const orphans = await petal(['--dir', dir, '--json', 'orphans'])
    expect(orphans.code, orphans.stderr).toBe(0)
    const states = (JSON.parse(orphans.stdout) as { orphans: Array<{ hash: string, state: string }> }).orphans
    expect(states.find(e => e.hash === m)?.state, 'and recorded: the orphan awaits no re-seal').not.toBe('pending')
    expect(mineCopies(dir), 'the rows once on the canonical chain').toBe(1)
  } finally {
    rmSync(pause, { force: true })
    reorg.child.kill('SIGKILL')
    forced?.child.kill('SIGKILL')
  }
}, 120_000)
