import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { Chain, signImport } from '../../../src/chain/index.js'
import { Keystore } from '../../../src/storage/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { petalInProcess } from '../../helpers/cli.js'
import { tmpDir } from '../../helpers/tmp.js'

// A block the ingest service sealed and `petal reseal` (session 49, reseal49): a canonical one is
// NOT_ORPHANED, as any canonical block (it answered INGEST_BLOCK_OWNED, whose hint sends the user to
// `petal seal` for rows that are not lost); an orphaned one is refused, the ingest service re-seals its
// rows row by row, and each receipt follows its row to the new block (docs/ingest.md, "Exactly once").

const run = petalInProcess
const json = <T> (r: { code: number, stdout: string, stderr: string }): T => { expect(r.code, r.stderr).toBe(0); return JSON.parse(r.stdout) as T }

interface Receipt { state: string, sealed?: { height: number, block_hash: string, rowid: string } }

it('canonical: NOT_ORPHANED; orphaned: INGEST_BLOCK_OWNED, listed as the ingest\'s rows, re-sealed by `petal seal`, the receipts in the new block, every row once', async () => {
  const alice = fixtureKey('alice')
  const { chain, dir } = await newTestChain({ key: alice })
  chain.close()
  new Keystore(join(dir, 'keystore')).import(readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'keys', 'alice.pem'), 'utf8'))
  // Another node of alice's at genesis, whose longer branch will orphan the ingest block.
  const other = join(tmpDir(), 'other')
  cpSync(dir, other, { recursive: true })
  const c = Chain.open(other)
  try {
    for (let i = 0; i < 2; i++) await signImport(c, makeSqlite(join(tmpDir(), `g${i}.db`), 2, 50 + i), alice)
  } finally {
    c.close()
  }

  const input = join(tmpDir(), 'rows.ndjson')
  writeFileSync(input, Array.from({ length: 6 }, (_, i) => JSON.stringify({ n: i, note: `r${i}` })).join('\n') + '\n')
  const ids = json<{ receipts: string[] }>(await run(['--dir', dir, '--json', 'append', 'events', input])).receipts
  expect(ids).toHaveLength(6)
  expect(json<{ rows: number }>(await run(['--dir', dir, '--json', 'seal'])).rows).toBe(6)
  const first = json<Receipt>(await run(['--dir', dir, '--json', 'receipt', ids[0] as string])).sealed
  expect(first?.height).toBe(1)
  const block = first?.block_hash as string

  const canonical = await run(['--dir', dir, 'reseal', block])
  expect(canonical.code, canonical.stderr).toBe(2)
  expect(canonical.stderr).toContain('[NOT_ORPHANED]')

  expect((await run(['--dir', dir, 'import', '--from', other])).code).toBe(0)
  const owned = await run(['--dir', dir, 'reseal', block])
  expect(owned.code, owned.stderr).toBe(2)
  expect(owned.stderr).toContain('[INGEST_BLOCK_OWNED]')
  const listed = json<{ orphans: unknown[] }>(await run(['--dir', dir, '--json', 'orphans']))
  expect(listed.orphans).toMatchObject([{ hash: block, state: 'not-resealable', reason: 'ingest-rows', rows: 6 }])

  // `petal seal` re-queues the orphaned block's rows and seals them on the new tip.
  expect(json<{ rows: number }>(await run(['--dir', dir, '--json', 'seal'])).rows).toBe(6)
  const after = await Promise.all(ids.map(async id => json<Receipt>(await run(['--dir', dir, '--json', 'receipt', id]))))
  expect(after.map(r => [r.state, r.sealed?.height])).toEqual(ids.map(() => ['sealed', 3]))
  const moved = after[0]?.sealed?.block_hash as string
  expect(moved).not.toBe(block)
  expect(new Set(after.map(r => r.sealed?.block_hash))).toEqual(new Set([moved]))
  // Each receipt names its own row there: the rows are on the canonical chain once, each where its receipt says.
  const q = await run(['--dir', dir, 'query', 'SELECT rowid AS id, note FROM events ORDER BY note'])
  expect(q.code, q.stderr).toBe(0)
  const rows = q.stdout.trim().split('\n').map(l => JSON.parse(l) as { id: number, note: string })
  expect(rows.map(r => r.note)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5'])
  for (const [i, r] of after.entries()) expect(rows.find(x => x.note === `r${i}`)?.id).toBe(Number(r.sealed?.rowid))
  // Back by the ingest service, not by a block re-seal: nothing for the block rule to do.
  expect(json<{ orphans: unknown[] }>(await run(['--dir', dir, '--json', 'orphans'])).orphans).toMatchObject([{ hash: block, state: 'not-resealable', reason: 'ingest-rows' }])
}, 60_000)
