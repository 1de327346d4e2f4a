import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, expect, it } from 'vitest'
import { Chain, verifyChain } from '../../src/chain/index.js'
import { Ingest, ResealRecord } from '../../src/ingest/index.js'
import { pendingOrphans } from '../../src/chain/index.js'
import { fixtureKey } from '../helpers/chain.js'
import { petal, petalInProcess } from '../helpers/cli.js'
import { aliceOrphan, mineCopies } from '../helpers/orphan.js'
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
  ({ dir: base, m: orphan } = await aliceOrphan(petalInProcess))
}, 60_000)

/** Canonical blocks holding the table `mine`, and whether the orphan is pending by the node's rule (with its record). */
async function look (dir: string): Promise<{ copies: number, pending: boolean }> {
  const copies = mineCopies(dir)
  const ch = Chain.open(dir)
  const ingest = Ingest.open({ chain: ch })
  try {
    expect((await verifyChain(ch, { workers: 1, deep: false })).ok).toBe(true)
    return { copies, pending: pendingOrphans(ch, alice.id, new ResealRecord(ingest.store)).some(b => b.hash === orphan) }
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
