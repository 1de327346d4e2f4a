import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { Keystore } from '../../src/storage/index.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { petal, spawnPetal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// `petal prove --receipt` proves the row in the receipt's own block. It read the receipt, then
// proved that table and rowid in whatever block was at the receipt's height: a reorg by another
// process in between (a running node) put another branch's block there, with a row of the same
// table and rowid, and the command wrote a proof that verifies, of someone else's row (the race
// review45 fixed in GET /receipts/{id}/proof; docs46 found it in the CLI).

const alice = fixtureKey('alice')

/**
 * A receipt's row sealed at height 1, then `prove --receipt` held after reading the receipt while
 * another branch (`otherFirst` at height 1, one block more) takes the chain, and `sign` a checkpoint
 * over it or not: how the command ended.
 */
async function proveAcrossReorg (otherFirst: string, sign: boolean): Promise<{ code: number | null, out: { petal_proof?: number, error?: { code: string } } }> {
  const { chain, dir } = await newTestChain({ key: alice })
  chain.close()
  new Keystore(join(dir, 'keystore')).import(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'keys', 'alice.pem'), 'utf8'))
  const other = join(tmpDir(), 'other')
  cpSync(dir, other, { recursive: true })
  for (const file of [makeSqlite(join(tmpDir(), 'e.db'), 3, 7, otherFirst), makeSqlite(join(tmpDir(), 'g.db'), 2, 8)]) {
    const r = await petal(['--dir', other, 'signimportblock', file])
    expect(r.code, r.stderr).toBe(0)
  }

  const rows = join(tmpDir(), 'rows.ndjson')
  writeFileSync(rows, JSON.stringify({ note: 'mine' }) + '\n')
  const appended = await petal(['--dir', dir, '--json', 'append', 'events', rows])
  expect(appended.code, appended.stderr).toBe(0)
  const [id] = (JSON.parse(appended.stdout) as { receipts: string[] }).receipts
  expect((await petal(['--dir', dir, 'seal'])).code).toBe(0)
  if (!sign) expect((await petal(['--dir', dir, 'checkpoint', '--sign'])).code).toBe(0)

  const pause = join(tmpDir(), 'pause')
  const prove = spawnPetal(['--dir', dir, '--json', 'prove', '--receipt', id ?? ''], { env: { PETAL_PAUSE: 'prove:receipt-read', PETAL_PAUSE_FILE: pause } })
  await waitFor(() => existsSync(pause) || prove.child.exitCode !== null, { what: 'prove to read the receipt' })
  const reorg = await petal(['--dir', dir, 'import', '--from', other])
  expect(reorg.code, reorg.stderr).toBe(0)
  if (sign) {
    const signed = await petal(['--dir', dir, 'checkpoint', '--sign'])
    expect(signed.code, signed.stderr).toBe(0)
  }
  rmSync(pause)
  const r = await prove.exit
  return { code: r.code, out: JSON.parse(r.stdout) as { petal_proof?: number, error?: { code: string } } }
}

it('a reorg between reading the receipt and proving its row gives PROOF_ROW_PENDING, not a proof of another row', async () => {
  // The other branch: an `events` table with rowid 1 at height 1.
  const { code, out } = await proveAcrossReorg('events', true)
  expect(out.petal_proof, 'a proof of the other branch\'s row').toBeUndefined()
  expect(out.error?.code).toBe('PROOF_ROW_PENDING')
  expect(code).not.toBe(0)
}, 60_000)

// review47: the receipt's block was compared with the proof's only once a proof was made, so the
// other block's own refusal came first (its table absent, no checkpoint over the new branch) and
// named what the other branch lacks; GET /receipts/{id}/proof says PROOF_ROW_PENDING (409) for both.
it('a reorg to a branch whose block at that height lacks the table, or that no checkpoint covers yet: PROOF_ROW_PENDING too', async () => {
  for (const [table, sign] of [['readings', true], ['events', false]] as const) {
    const { code, out } = await proveAcrossReorg(table, sign)
    expect(out.error?.code, `${table}, checkpoint ${sign ? 'signed' : 'not signed'} after the reorg`).toBe('PROOF_ROW_PENDING')
    // PROOF_ROW_PENDING's status, as a row sealed in no block yet (errors.md).
    expect(code).toBe(4)
  }
}, 90_000)
