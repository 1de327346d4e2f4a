import { beforeAll, describe, expect, it } from 'vitest'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, signImport, verifyChain } from '../../src/chain/index.js'
import { Ingest } from '../../src/ingest/index.js'
import { Keystore } from '../../src/storage/index.js'
import { filesMatchIndex, fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { petal } from '../helpers/cli.js'
import { canonicalRows, checkExactlyOnce } from '../helpers/ingest.js'
import { tmpDir } from '../helpers/tmp.js'

// Receipts across reorgs and kill -9 (review45): the real CLI imports a branch that orphans the
// block holding appended rows, killed during the reorg, then seals them again, killed during
// that seal; then the rows' first branch comes back, the import killed again. After each step's
// completion every receipt names one row of the canonical chain, and no row is there twice.

const alice = fixtureKey('alice')
let sealed: string
let receipts: string[]
let mHash: string
let branchY: string
let branchX: string

function copyOf (dir: string): string {
  const d = join(tmpDir(), 'reorg-crash')
  cpSync(dir, d, { recursive: true })
  return d
}

async function grow (dir: string, n: number, seed: number): Promise<void> {
  const c = Chain.open(dir)
  try {
    for (let i = 0; i < n; i++) await signImport(c, makeSqlite(join(tmpDir(), 'g.db'), 2, seed + i), alice)
  } finally {
    c.close()
  }
}

/** The directory verifies, every receipt is sealed once; returns the tip's height and the receipts' block hashes. */
async function exactlyOnce (dir: string): Promise<{ height: number, blocks: string[] }> {
  const chain = Chain.open(dir)
  try {
    expect(await filesMatchIndex(chain)).toEqual([])
    expect((await verifyChain(chain, { workers: 1, deep: false })).failure).toBeUndefined()
    const ingest = Ingest.open({ chain, readonly: true })
    try {
      expect(checkExactlyOnce(chain, ingest, 'events', receipts, v => String(v.note))).toEqual([])
      expect(canonicalRows(chain, 'events')).toHaveLength(receipts.length)
      return { height: chain.tip().height, blocks: [...new Set(receipts.map(id => ingest.receipt(id)?.sealed?.blockHash ?? ''))] }
    } finally {
      await ingest.close()
    }
  } finally {
    chain.close()
  }
}

beforeAll(async () => {
  const { chain, dir } = await newTestChain({ key: alice })
  chain.close()
  new Keystore(join(dir, 'keystore')).import(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'keys', 'alice.pem'), 'utf8'))
  branchY = copyOf(dir)
  await grow(branchY, 2, 100)
  sealed = copyOf(dir)
  const rows = join(tmpDir(), 'rows.ndjson')
  writeFileSync(rows, Array.from({ length: 40 }, (_, i) => JSON.stringify({ n: i, note: `r-${i}` })).join('\n') + '\n')
  const r = await petal(['--dir', sealed, '--json', 'append', 'events', rows])
  expect(r.code, r.stderr).toBe(0)
  receipts = (JSON.parse(r.stdout) as { receipts: string[] }).receipts
  const s = await petal(['--dir', sealed, 'seal'])
  expect(s.code, s.stderr).toBe(0)
  const once = await exactlyOnce(sealed)
  expect(once.height).toBe(1)
  mHash = once.blocks[0] as string
  // The rows' own branch, grown elsewhere past anything the other branch and a re-seal reach.
  branchX = copyOf(sealed)
  await grow(branchX, 3, 200)
}, 120_000)

describe('kill -9 of the reorg that orphans sealed records, and of their re-seal', () => {
  const cases: Array<[string, string]> = [['journal:written', 'ingest:built'], ['journal:moved', 'tx:committed'], ['tx:committed', 'ingest:committed']]
  for (const [reorgAt, resealAt] of cases) {
    it(`reorg killed at ${reorgAt}, re-seal at ${resealAt}, the reorg back at ${reorgAt}: every receipt sealed once each time`, async () => {
      const dir = copyOf(sealed)
      const killed = await petal(['--dir', dir, 'import', '--from', branchY], { env: { PETAL_FAILPOINT: reorgAt } })
      expect(killed.signal, killed.stderr).toBe('SIGKILL')
      const done = await petal(['--dir', dir, 'import', '--from', branchY])
      expect(done.code, done.stderr).toBe(0)
      const sealKilled = await petal(['--dir', dir, 'seal'], { env: { PETAL_FAILPOINT: resealAt } })
      expect(sealKilled.signal, sealKilled.stderr).toBe('SIGKILL')
      const again = await petal(['--dir', dir, 'seal'])
      expect(again.code, again.stderr).toBe(0)
      const moved = await exactlyOnce(dir)
      expect(moved.height).toBe(3)
      expect(moved.blocks).toHaveLength(1)
      expect(moved.blocks[0]).not.toBe(mHash)

      // Back to the rows' first block: the re-seal is orphaned, the rows follow their first block.
      const back = await petal(['--dir', dir, 'import', '--from', branchX], { env: { PETAL_FAILPOINT: reorgAt } })
      expect(back.signal, back.stderr).toBe('SIGKILL')
      const backDone = await petal(['--dir', dir, 'import', '--from', branchX])
      expect(backDone.code, backDone.stderr).toBe(0)
      const last = await petal(['--dir', dir, '--json', 'seal'])
      expect(last.code, last.stderr).toBe(0)
      expect((JSON.parse(last.stdout) as { rows: number }).rows, 'rows back in their first block are not sealed again').toBe(0)
      expect(await exactlyOnce(dir)).toEqual({ height: 4, blocks: [mHash] })
    }, 120_000)
  }
})
