import { cpSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, expect, it } from 'vitest'
import { Chain, signImport, verifyChain } from '../../src/chain/index.js'
import { Ingest, ResealRecord } from '../../src/ingest/index.js'
import { Keystore } from '../../src/storage/index.js'
import { pendingOrphans } from '../../src/sync/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { petal, petalInProcess } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

// `petal reseal` killed (SIGKILL) before its record of what it copies is written, between that
// write and the chain's commit, and after the commit (session 47, reseal47): afterwards the
// orphan's rows are on the canonical chain once, after one more `petal reseal` where nothing
// committed, and a further one is refused (ORPHAN_CONTENT_BACK) rather than sealing them twice.
// Without the record written before the commit, a re-seal committed and then killed would be a
// block of alice's with the orphan's rows that stands for nothing: sealed again, twice.

const alice = fixtureKey('alice')
let base: string
let orphan: string

beforeAll(async () => {
  const { chain, dir } = await newTestChain({ key: alice })
  chain.close()
  new Keystore(join(dir, 'keystore')).import(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'keys', 'alice.pem'), 'utf8'))
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
  orphan = (JSON.parse(mine.stdout) as { hash: string }).hash
  expect((await petalInProcess(['--dir', dir, 'import', '--from', other])).code).toBe(0)
  base = dir
}, 60_000)

/** Canonical blocks holding the table `mine`, and whether the orphan is pending by the node's rule (with its record). */
async function look (dir: string): Promise<{ copies: number, pending: boolean }> {
  const ch = Chain.open(dir)
  const ingest = Ingest.open({ chain: ch })
  try {
    expect((await verifyChain(ch, { workers: 1, deep: false })).ok).toBe(true)
    return {
      copies: ch.index.range(1, ch.tip().height, ch.tip().height).filter(b => ch.index.tablesOf(b.hash).some(t => t.name === 'mine')).length,
      pending: pendingOrphans(ch, alice.id, new ResealRecord(ingest.store)).some(b => b.hash === orphan)
    }
  } finally {
    await ingest.close()
    ch.close()
  }
}

it.each([
  ['sign-import:prepared', false],
  ['reseal:recorded', false],
  ['tx:committed', true]
])('killed at %s: the rows once on the chain, and never twice', async (fp, committed) => {
  const dir = join(tmpDir(), 'crash')
  cpSync(base, dir, { recursive: true })
  const killed = await petal(['--dir', dir, 'reseal', orphan], { env: { PETAL_FAILPOINT: fp } })
  expect(killed.signal, killed.stderr).toBe('SIGKILL')
  expect(await look(dir)).toEqual(committed ? { copies: 1, pending: false } : { copies: 0, pending: true })
  if (!committed) {
    const again = await petal(['--dir', dir, 'reseal', orphan])
    expect(again.code, again.stderr).toBe(0)
  }
  const refused = await petal(['--dir', dir, 'reseal', orphan])
  expect(refused.code, refused.stdout).toBe(2)
  expect(refused.stderr).toContain('[ORPHAN_CONTENT_BACK]')
  expect(await look(dir)).toEqual({ copies: 1, pending: false })
}, 120_000)
