import Database from 'better-sqlite3'
import { cpSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { petal } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'

// `petal status` counts as pending what `petal receipt` says is pending: a row none of whose blocks
// is canonical (ingest/pending-summary.ts). Session 53 (review53) counted the rows of a sealed batch
// whose block a reorg left on a side branch; this is the way back: a seal after the first reorg
// sealed those rows again (a second batch), and a branch holding the first block won again. The
// receipt says sealed (in the first block); status said 3 pending, the second batch's rows, which the
// next seal's reconcile restores to the first (review53b).

interface Ingest { pending_rows: number, claimed_rows: number }

const ingestOf = async (dir: string): Promise<Ingest> => {
  const t = await petal(['--dir', dir, '--json', 'status'])
  expect(t.code, t.stderr).toBe(0)
  return (JSON.parse(t.stdout) as { ingest: Ingest }).ingest
}

/** Append one row to table `others` of `dir` and seal it: one block more. */
async function sealOther (work: string, dir: string, v: number): Promise<void> {
  writeFileSync(join(work, 'other.csv'), `x,v\nx,${v}\n`)
  expect((await petal(['--dir', dir, 'append', 'others', join(work, 'other.csv')])).code).toBe(0)
  expect((await petal(['--dir', dir, 'seal'])).code).toBe(0)
}

/** Copy `a` to `b` (another branch to grow), then append 3 rows to `a` and seal them: the first row's receipt. */
async function forkAndSeal (work: string, a: string, b: string): Promise<string> {
  cpSync(a, b, { recursive: true })
  writeFileSync(join(work, 'rows.csv'), 'sensor,v\na,1\nb,2\nc,3\n')
  const appended = await petal(['--dir', a, 'append', 'readings', join(work, 'rows.csv')])
  expect(appended.code, appended.stderr).toBe(0)
  expect((await petal(['--dir', a, 'seal'])).code).toBe(0)
  return /^\S+/.exec(appended.stdout)?.[0] ?? ''
}

describe('petal status after a reorg and back', () => {
  it('rows sealed again after a reorg, whose first block is canonical again: not pending, as the receipt says', async () => {
    const work = tmpDir()
    const a = join(work, 'a')
    const b = join(work, 'b')
    const back = join(work, 'back')
    expect((await petal(['--dir', a, 'init'])).code).toBe(0)
    const receipt = await forkAndSeal(work, a, b)
    // A branch that keeps a's block 1 and will outgrow the one a moves to.
    cpSync(a, back, { recursive: true })
    for (const v of [1, 2]) await sealOther(work, b, v)
    expect((await petal(['--dir', a, 'import', '--from', b])).code).toBe(0)
    // The seal requeues the rows of the abandoned block 1 and seals them again, at height 3.
    const resealed = await petal(['--dir', a, '--json', 'seal'])
    expect(resealed.code, resealed.stderr).toBe(0)
    expect((JSON.parse(resealed.stdout) as { rows: number }).rows).toBe(3)
    for (const v of [3, 4, 5]) await sealOther(work, back, v)
    const imported = await petal(['--dir', a, 'import', '--from', back])
    expect(imported.code, imported.stderr).toBe(0)
    expect((await petal(['--dir', a, 'receipt', receipt])).stdout).toMatch(/sealed/)
    expect(await ingestOf(a)).toMatchObject({ pending_rows: 0, claimed_rows: 0 })
    // The next seal's reconcile agrees: nothing to seal, nothing pending.
    const after = await petal(['--dir', a, 'seal'])
    expect(after.code, after.stderr).toBe(0)
    expect(after.stdout.trim()).toBe('nothing to seal')
    expect(await ingestOf(a)).toMatchObject({ pending_rows: 0, claimed_rows: 0 })
    expect((await petal(['--dir', a, 'receipt', receipt])).stdout).toMatch(/sealed/)
  }, 180_000)

  // The reconcile looked only at the batches within max_reorg_depth of the tip it met: an import of
  // more blocks than that at once, abandoning a sealed block, left its rows pending for good (the
  // receipt said pending, `petal seal` "nothing to seal", status "pending none"). It now looks from
  // the tip the last reconcile met (pending.db meta `reconciled_tip`: ingest/pending-summary.ts,
  // reconcileFloor), as status does (review53b).
  it('a sealed block abandoned by an import of more than max_reorg_depth + 1 blocks: its rows are pending, and sealed again', async () => {
    const work = tmpDir()
    const a = join(work, 'a')
    const b = join(work, 'b')
    writeFileSync(join(work, 'p.json'), '{"max_reorg_depth": 2}')
    const made = await petal(['--dir', a, 'newchain', join(work, 'p.json')])
    expect(made.code, made.stderr).toBe(0)
    const receipt = await forkAndSeal(work, a, b)
    for (const v of [1, 2, 3, 4, 5]) await sealOther(work, b, v)
    const imported = await petal(['--dir', a, 'import', '--from', b])
    expect(imported.code, imported.stderr).toBe(0)
    expect(imported.stdout).toContain('reorg')
    expect((await petal(['--dir', a, 'receipt', receipt])).stdout).toMatch(/pending/)
    expect(await ingestOf(a)).toMatchObject({ pending_rows: 3, claimed_rows: 0 })
    // So too of a store no reconcile has noted (written before 13d29177): until session 55 status
    // counted it from the tip's window only (heights 3 to 6 here) and said none until the next seal.
    const db = new Database(join(a, 'pending.db'))
    db.prepare("DELETE FROM meta WHERE key IN ('reconciled_tip', 'reconciled_anchor')").run()
    db.close()
    expect(await ingestOf(a)).toMatchObject({ pending_rows: 3, claimed_rows: 0 })
    const sealed = await petal(['--dir', a, '--json', 'seal'])
    expect(sealed.code, sealed.stderr).toBe(0)
    expect((JSON.parse(sealed.stdout) as { rows: number }).rows).toBe(3)
    expect((await petal(['--dir', a, 'receipt', receipt])).stdout).toMatch(/sealed/)
    expect(await ingestOf(a)).toMatchObject({ pending_rows: 0, claimed_rows: 0 })
  }, 180_000)
})
