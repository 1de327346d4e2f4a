import { cpSync, existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { Chain, signImport } from '../../../src/chain/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'
import { petalInProcess, hintOf } from '../../helpers/cli.js'
import { aliceOrphan } from '../../helpers/orphan.js'
import { whileServing } from '../../helpers/serve.js'

// `petal orphans` lists your side-branch blocks and where their content is; reseal's hints,
// which named forks/HASH.db in the data directory (session 47), now send the user to it: each
// hint's `petal orphans` is run here as printed.


/** The hint's `petal … orphans` command, run as printed (the CLI adds this --dir to it). */
async function runHintsOrphans (stderr: string): Promise<{ code: number, stdout: string, stderr: string }> {
  const cmd = /`petal ([^`]*orphans)`/.exec(hintOf(stderr))?.[1]
  expect(cmd, hintOf(stderr)).toBeDefined()
  return await petalInProcess((cmd as string).split(' '))
}

it('lists an orphan awaiting re-seal, then back once re-sealed; every reseal hint that names it runs as printed', async () => {
  const { dir, m } = await aliceOrphan(petalInProcess)

  const text = await petalInProcess(['--dir', dir, 'orphans'])
  expect(text.code, text.stderr).toBe(0)
  expect(text.stdout).toMatch(new RegExp(`^1 +${m.slice(0, 12)}.* mine +5 +awaiting re-seal$`, 'm'))
  expect(text.stderr).toContain('`petal reseal HASH` re-seals one now')
  const json = await petalInProcess(['--dir', dir, '--json', 'orphans'])
  expect(JSON.parse(json.stdout)).toMatchObject({ tip: { height: 2 }, orphans: [{ height: 1, hash: m, tables: [{ name: 'mine', rows: 5 }], rows: 5, state: 'pending' }] })

  // No such block: the hint names `petal orphans`, which lists m.
  const none = await petalInProcess(['--dir', dir, 'reseal', '0123456789abcdef'])
  expect(none.code).toBe(2)
  const listed = await runHintsOrphans(none.stderr)
  expect(listed.code, listed.stderr).toBe(0)
  expect(listed.stdout).toContain(m.slice(0, 12))

  // A canonical block: NOT_ORPHANED, the same.
  const tip = (JSON.parse(json.stdout) as { tip: { hash: string } }).tip.hash
  const canonical = await petalInProcess(['--dir', dir, 'reseal', tip])
  expect(canonical.stderr).toContain('[NOT_ORPHANED]')
  expect((await runHintsOrphans(canonical.stderr)).stdout).toContain('awaiting re-seal')

  // Re-sealed: back, by this node's record (it re-sealed it); a second re-seal's hint shows where.
  const r = await petalInProcess(['--dir', dir, '--json', 'reseal', m])
  expect(r.code, r.stderr).toBe(0)
  const copy = (JSON.parse(r.stdout) as { hash: string }).hash
  const again = await petalInProcess(['--dir', dir, 'reseal', m])
  expect(again.stderr).toContain('[ORPHAN_CONTENT_BACK]')
  const where = await runHintsOrphans(again.stderr)
  expect(where.stdout).toMatch(new RegExp(`back: re-sealed as block 3 ${copy.slice(0, 12)}`))
  const after = JSON.parse((await petalInProcess(['--dir', dir, '--json', 'orphans'])).stdout) as { orphans: unknown[] }
  expect(after.orphans).toMatchObject([{ hash: m, state: 'back', by: 'recorded-copy', copy: { height: 3, hash: copy } }])
}, 60_000)

it('says when there is nothing to list; --all lists every signer\'s', async () => {
  const { dir, m } = await aliceOrphan(petalInProcess)
  // A reader's copy, without a signing key of its own: nothing is its, and it says how to see all.
  const reader = join(tmpDir(), 'reader')
  cpSync(dir, reader, { recursive: true })
  rmSync(join(reader, 'keystore'), { recursive: true })
  const mine = await petalInProcess(['--dir', reader, 'orphans'])
  expect(mine.code, mine.stderr).toBe(0)
  expect(mine.stdout).toContain('no signing key in this data directory\'s keystore (`petal orphans --all`')
  const all = await petalInProcess(['--dir', reader, '--json', 'orphans', '--all'])
  expect((JSON.parse(all.stdout) as { orphans: Array<{ hash: string, state: string }> }).orphans).toMatchObject([{ hash: m, state: 'pending' }])
  // A chain without side blocks.
  const { chain, dir: plain } = await newTestChain({ key: fixtureKey('alice') })
  chain.close()
  expect((await petalInProcess(['--dir', plain, 'orphans', '--all'])).stdout).toContain('no side-branch blocks')
}, 60_000)

// `petal serve`'s GET /api/v1/orphans judged every block from the chain alone, while `petal orphans`
// read pending.db's record of re-seals: of alice's orphan m and the same file imported again on the
// winning branch (a publication of its own), serve said m was back by rows root, the CLI that it
// awaits its re-seal (reseal49). Both now share one judging (orphanJudging).
it('serve and `petal orphans` judge alike, with pending.db\'s record: the same file imported again is not the orphan\'s return', async () => {
  // `petal seal` at genesis opens pending.db for writing: the record is kept from height 0.
  const { dir, m } = await aliceOrphan(petalInProcess, async d => { expect((await petalInProcess(['--dir', d, 'seal'])).code).toBe(0) })
  const again = await petalInProcess(['--dir', dir, '--json', 'signimportblock', makeSqlite(join(tmpDir(), 'm.db'), 5, 1, 'mine')])
  expect(again.code, again.stderr).toBe(0)
  const cli = JSON.parse((await petalInProcess(['--dir', dir, '--json', 'orphans'])).stdout) as { orphans: unknown[] }
  expect(cli.orphans).toMatchObject([{ hash: m, state: 'pending' }])
  await whileServing(dir, async url => {
    const api = await (await fetch(new URL('api/v1/orphans', url))).json() as { orphans: unknown[] }
    expect(api.orphans).toEqual(cli.orphans)
  })
}, 60_000)

// The text table had no origin column: an orphan that is itself a re-seal showed its rows and state
// but not whose content it copies, which --json gives as `origin` (reseal49).
it('the text table names an orphaned re-seal\'s origin, and `-` for a first publication', async () => {
  const { dir, m } = await aliceOrphan(petalInProcess)
  const longer = join(tmpDir(), 'longer')
  cpSync(dir, longer, { recursive: true })
  const r = JSON.parse((await petalInProcess(['--dir', dir, '--json', 'reseal', m])).stdout) as { hash: string }
  const c = Chain.open(longer)
  try {
    for (let i = 0; i < 2; i++) await signImport(c, makeSqlite(join(tmpDir(), `l${i}.db`), 1, 70 + i), fixtureKey('alice'))
  } finally {
    c.close()
  }
  expect((await petalInProcess(['--dir', dir, 'import', '--from', longer])).code).toBe(0)
  const text = await petalInProcess(['--dir', dir, 'orphans'])
  expect(text.code, text.stderr).toBe(0)
  expect(text.stdout).toMatch(/^HEIGHT +HASH +SIGNER +ORIGIN +TABLES +ROWS +STATE$/m)
  expect(text.stdout).toMatch(new RegExp(`^1 +${m.slice(0, 12)} +\\S+ +- +mine +5 +awaiting re-seal$`, 'm'))
  expect(text.stdout).toMatch(new RegExp(`^3 +${r.hash.slice(0, 12)} +\\S+ +${m.slice(0, 12)} +mine +5 +`, 'm'))
}, 60_000)

// docs/api.md said it: a `petal serve` started before the directory had a pending.db read no record
// of re-seals until it was restarted, so after a `petal reseal` beside it, serve judged the orphan
// from the chain alone while `petal orphans` named the recorded copy (session 50, user50).
it('serve started before pending.db exists reads its record once a re-seal creates it', async () => {
  const { dir, m } = await aliceOrphan(petalInProcess)
  expect(existsSync(join(dir, 'pending.db'))).toBe(false)
  await whileServing(dir, async url => {
    const orphans = async (): Promise<unknown[]> => ((await (await fetch(new URL('api/v1/orphans', url))).json()) as { orphans: unknown[] }).orphans
    expect(await orphans()).toMatchObject([{ hash: m, state: 'pending' }])
    const r = await petalInProcess(['--dir', dir, '--json', 'reseal', m])
    expect(r.code, r.stderr).toBe(0)
    expect(existsSync(join(dir, 'pending.db'))).toBe(true)
    const cli = JSON.parse((await petalInProcess(['--dir', dir, '--json', 'orphans'])).stdout) as { orphans: unknown[] }
    expect(cli.orphans).toMatchObject([{ hash: m, state: 'back', by: 'recorded-copy' }])
    expect(await orphans()).toEqual(cli.orphans)
  })
}, 60_000)
