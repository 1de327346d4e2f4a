import { describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { faultEnv, faultResult, faultShim } from '../helpers/fault-shim.js'
import { petal } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { petalInProcess } from '../helpers/cli.js'

// A lock file (node.lock, seal.lock: an SQLite lock, src/storage/node-lock.ts) the disk refuses to
// create (found by the fault torture, session 34: `pull`, ENOSPC on node.lock's open).
const withCc = faultShim() !== undefined

describe.runIf(withCc)('a lock file the disk refuses to open', () => {
  it('is IO_ERROR with a true hint, not a permissions problem', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const rows = join(tmpDir(), 'rows.ndjson')
    writeFileSync(rows, '{"a":1}\n')
    expect((await petal(['--dir', dir, 'append', 'kept', rows])).code).toBe(0)
    const f = faultEnv({ dir, ops: ['open'], nth: 1, sticky: true, errno: 'ENOSPC', match: '/seal.lock' })
    const r = await petal(['--dir', dir, 'seal'], f.env)
    expect(faultResult(f).injected).toBeGreaterThan(0)
    // Before: PERMISSION_DENIED, "check that … this user may read and write it".
    expect(r.stderr).toMatch(/\[IO_ERROR\]/)
    expect(r.stderr).toMatch(/hint: free space/)
    const again = await petal(['--dir', dir, '--json', 'seal'])
    expect(again.code, again.stderr).toBe(0)
    expect((JSON.parse(again.stdout) as { rows: number }).rows).toBe(1)
  }, 60_000)

  it('after an append\'s commit, a refused look at node.lock (who seals) does not fail the append: its rows are stored', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const rows = join(tmpDir(), 'rows.ndjson')
    writeFileSync(rows, '{"a":1}\n{"a":2}\n')
    // The fault torture's seed 5163: the journal of node.lock (runningNodeRole's look, after the
    // commit) refused; before, exit 4 [IO_ERROR] with the rows stored, which a retry stores again.
    // Since session 54 a look opens node.lock read-only and makes no journal: its read is refused.
    const f = faultEnv({ dir, ops: ['read'], nth: 1, sticky: true, errno: 'EIO', match: '/node.lock' })
    const r = await petal(['--dir', dir, '--json', 'append', 'kept', rows], f.env)
    expect(faultResult(f).injected).toBeGreaterThan(0)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/could not be read/)
    const receipts = (JSON.parse(r.stdout) as { receipts: string[] }).receipts
    expect(receipts).toHaveLength(2)
    const sealed = await petal(['--dir', dir, '--json', 'seal'])
    expect((JSON.parse(sealed.stdout) as { rows: number }).rows).toBe(2)
  }, 60_000)
})
