import { cpSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Chain, pendingOrphans } from '../../src/chain/index.js'
import { Ingest, ResealRecord } from '../../src/ingest/index.js'
import { petal } from '../helpers/cli.js'
import { fixtureKey, makeSqlite } from '../helpers/chain.js'
import { aliceOrphan, mineCopies } from '../helpers/orphan.js'
import { tmpDir } from '../helpers/tmp.js'

// One signing key used by two nodes (two data directories, each with alice's key). Each node kept
// only its own record of its re-seals (pending.db), so the second node took the first one's
// re-seal of an orphan for a block of its own with the same rows, and re-sealed the orphan again:
// its rows twice on the canonical chain (reseal47's finding). A re-seal now names its content's
// origin in its _meta Description, which every node reads from the chain.

const alice = fixtureKey('alice')

/**
 * alice's orphan m in a data directory whose pending.db was opened at the genesis, as a node's is
 * that runs from the start: m is content published since its record is kept (docs/consensus.md,
 * "Re-sealing orphaned blocks"), judged by the record, not by rows root.
 */
async function orphan (): Promise<{ dir: string, m: string }> {
  return await aliceOrphan(petal, async dir => { expect((await petal(['--dir', dir, 'seal'])).code).toBe(0) })
}

interface Orphan { height: number, hash: string, state: string, by?: string, copy?: { height: number, hash: string }, origin?: string }

async function orphans (dir: string): Promise<Orphan[]> {
  const r = await petal(['--dir', dir, '--json', 'orphans'])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { orphans: Orphan[] }).orphans
}

async function reseal (dir: string, hash: string): Promise<{ code: number | null, stderr: string, hash?: string }> {
  const r = await petal(['--dir', dir, '--json', 'reseal', hash])
  return { code: r.code, stderr: r.stderr, hash: r.code === 0 ? (JSON.parse(r.stdout) as { hash: string }).hash : undefined }
}

/** What the node's own pass would re-seal in `dir` (pendingOrphans with its record). */
async function nodeWouldReseal (dir: string): Promise<string[]> {
  const chain = Chain.open(dir)
  const ingest = Ingest.open({ chain })
  try {
    return pendingOrphans(chain, alice.id, new ResealRecord(ingest.store)).map(b => b.hash)
  } finally {
    await ingest.close()
    chain.close()
  }
}

describe('two nodes that share one key', () => {
  it('the second node does not re-seal an orphan the first one re-sealed, once it has that block (old code: the rows twice)', async () => {
    const { dir, m } = await orphan()
    const second = join(tmpDir(), 'second')
    cpSync(dir, second, { recursive: true })
    const first = await reseal(dir, m)
    expect(first.code, first.stderr).toBe(0)
    expect((await petal(['--dir', second, 'import', '--from', dir])).code).toBe(0)

    expect(await nodeWouldReseal(second), 'the second node\'s pass').toEqual([])
    const again = await reseal(second, m)
    expect(again.code, again.stderr).toBe(2)
    expect(again.stderr).toContain('[ORPHAN_CONTENT_BACK]')
    expect(mineCopies(second)).toBe(1)
    expect(await orphans(second)).toMatchObject([{ hash: m, state: 'back', by: 'marked-copy', copy: { hash: first.hash } }])

    // The mark is plain _meta text that any SQLite reader (Daisy's query too) sees.
    const block = readFileSync(join(second, '0000', 'block_00000003.db'))
    expect(block.includes(Buffer.from(`re-seal of ${m}`))).toBe(true)
  }, 120_000)

  it('both re-seal it at once, and the first one\'s wins the fork: the loser re-seals nothing (old code: it re-sealed its own re-seal)', async () => {
    const { dir, m } = await orphan()
    const second = join(tmpDir(), 'second')
    cpSync(dir, second, { recursive: true })
    const r1 = await reseal(dir, m)
    const r2 = await reseal(second, m)
    expect([r1.code, r2.code], r1.stderr + r2.stderr).toEqual([0, 0])
    // The first node's branch grows, and the second node takes it: its own re-seal is orphaned.
    expect((await petal(['--dir', dir, 'signimportblock', makeSqlite(join(tmpDir(), 'next.db'), 2, 90)])).code).toBe(0)
    expect((await petal(['--dir', second, 'import', '--from', dir])).code).toBe(0)

    expect(await nodeWouldReseal(second), 'the second node\'s pass').toEqual([])
    for (const h of [r2.hash as string, m]) {
      const again = await reseal(second, h)
      expect(again.code, again.stderr).toBe(2)
      expect(again.stderr).toContain('[ORPHAN_CONTENT_BACK]')
    }
    expect(mineCopies(second)).toBe(1)
    const list = await orphans(second)
    expect(list.find(o => o.hash === r2.hash)).toMatchObject({ state: 'back', by: 'marked-copy', copy: { hash: r1.hash }, origin: m })
    expect(list.find(o => o.hash === m)).toMatchObject({ state: 'back', by: 'marked-copy', copy: { hash: r1.hash } })
  }, 120_000)
})
