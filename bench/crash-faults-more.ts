/**
 * Lanes of the fault torture added in session 34 (mend34), beside bench/crash-faults.ts:
 * - `read`: reads that fail (the shim's `read` class, EIO, once or from then on) under `verify`,
 *   `query` (its mirror rebuilt from the blocks half the time) and `block N`. Exit 0 after a fault
 *   is right only with a right answer: verify's "ok" (a failed read proves nothing wrong, and the
 *   block was read again), the query's full count, or a partial count with the mirror's warning
 *   that the read failed. A failure must be coded (IO_ERROR) with a hint and no stack trace; after
 *   each run a clean verify and query must give the whole chain (a read changes nothing).
 * - `adopt`: `adopt-daisy` into a new directory with a fault of any class (writes, fsyncs, renames,
 *   opens and reads of the copy); adopting again must make the chain, which verifies.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { buildDaisyDir } from '../test/helpers/daisy.js'
import { faultCounts, faulted, judge, newChain, runUnderFault, type Harness } from './crash-faults.js'
import { codedError, petal, sqliteFile } from './crash-torture-proc.js'

const calls: Record<string, number> = {}

export async function faultRead (h: Harness): Promise<void> {
  const dir = join(h.root, 'f-read')
  await newChain(dir)
  const blocks = 6
  for (let b = 1; b <= blocks; b++) await petal(['--dir', dir, 'signimportblock', sqliteFile(join(h.root, 'rdsrc.db'), b === 3 ? 20_000 : 50, b)])
  const full = countOf((await petal(['--dir', dir, 'query', 'SELECT count(*) AS n FROM t'])).stdout)
  for (let i = 0; i < h.iterations; i++) {
    const kind = (['verify', 'query', 'block'] as const)[i % 3] as 'verify' | 'query' | 'block'
    const rebuild = kind === 'query' && h.rand() < 0.5
    if (rebuild) for (const n of ['query.db', 'query.db-wal', 'query.db-shm']) rmSync(join(dir, n), { force: true })
    const argv = kind === 'verify' ? ['verify'] : kind === 'query' ? ['query', 'SELECT count(*) AS n FROM t'] : ['--json', 'block', String(1 + Math.floor(h.rand() * blocks))]
    // Half the time only the block files count (chain.db's reads outnumber theirs).
    const blockFiles = h.rand() < 0.5
    const key = `${kind}${rebuild ? ' (mirror rebuilt)' : ''}${blockFiles ? ' blocks' : ''}`
    const nth = calls[key] === undefined ? 0 : 1 + Math.floor(h.rand() * (calls[key] as number))
    const sticky = h.rand() < 0.5
    const { run, res } = await runUnderFault(dir, argv, { dir, ops: ['read'], nth, errno: 'EIO', sticky, match: blockFiles ? '/0000/block_' : undefined })
    if (res.injected === 0) calls[key] = Math.max(calls[key] ?? 0, res.calls)
    const what = `${key} read#${nth}${sticky ? '+' : ''} EIO`
    if (run.code === 0 && res.injected > 0) {
      // A right answer despite the failed read: judged here, not by the log as writes are.
      h.tally('read', true)
      const c = faultCounts.read ??= { injected: 0, failedCoded: 0, exit0Harmless: 0 }
      c.injected++
      const n = kind === 'query' ? countOf(run.stdout) : undefined
      const right = kind === 'verify' ? /^ok: /.test(run.stdout) : kind === 'query' ? n === full || (n !== undefined && full !== undefined && n < full && /could not be read \(EIO\)/.test(run.stderr)) : true
      if (right) c.exit0Harmless++
      else h.fail('read', i, `${what}: exit 0 with a wrong answer`, `${run.stdout.slice(0, 300)}\n${run.stderr}\n${res.log.join('\n')}`)
    } else if (kind === 'query' && codedError(run.stderr)?.code === 'QUERY_UNKNOWN_TABLE' && /could not be read \(EIO\)/.test(run.stderr)) {
      // The mirror stopped below the first block with the table, and said why first (on stderr).
      h.tally('read', true)
      const c = faultCounts.read ??= { injected: 0, failedCoded: 0, exit0Harmless: 0 }
      c.injected++
      c.failedCoded++
    } else judge(h, 'read', i, what, run, res.injected, res.log)
    // A read changes nothing: the whole chain, clean.
    const v = await petal(['--dir', dir, 'verify'])
    if (v.code !== 0) h.fail('read', i, `verify after the fault exit ${v.code}`, v.stderr)
    const q = await petal(['--dir', dir, 'query', 'SELECT count(*) AS n FROM t'])
    if (countOf(q.stdout) !== full) h.fail('read', i, `query after the fault: ${countOf(q.stdout) ?? 'nothing'} rows of ${full ?? '?'}`, q.stderr)
  }
}

export async function faultAdopt (h: Harness): Promise<void> {
  const daisy = buildDaisyDir(join(h.root, 'f-adopt-daisy'))
  for (let i = 0; i < h.iterations; i++) {
    const dir = join(h.root, `f-adopt-${i}`)
    mkdirSync(dir)
    const imported = await petal(['--dir', dir, 'keys', 'import', join(daisy.root, 'private.db')])
    if (imported.code !== 0) { h.fail('adopt', i, `keys import exit ${imported.code}`, imported.stderr); continue }
    const { run } = await faulted(h, 'adopt', i, dir, ['adopt-daisy', daisy.root], ['fsync', 'write', 'open', 'rename', 'read'])
    // Until chainparams.json is written the directory holds no chain: adopting again starts over.
    // A failure after it (its directory's fsync) made the chain: the check below verifies it, and
    // adopting again is rightly DATA_DIR_NOT_EMPTY (seed 362 #2, mend36).
    const made = run.code !== 0 && existsSync(join(dir, 'chainparams.json'))
    const again = run.code === 0 || made ? run : await petal(['--dir', dir, 'adopt-daisy', daisy.root])
    if (made) console.log(`  adopt #${i}: failed after chainparams.json was written; its chain is checked as made`)
    if (again.code !== 0 && !made) { h.fail('adopt', i, `adopt-daisy after the fault exit ${again.code} [${codedError(again.stderr)?.code ?? ''}]`, again.stderr); continue }
    const v = await petal(['--dir', dir, 'verify'])
    if (v.code !== 0) h.fail('adopt', i, `verify of the adopted chain exit ${v.code}`, v.stderr)
    if (await h.afterKill('adopt', i, dir)) h.noLeftovers('adopt', dir, v)
    rmSync(dir, { recursive: true, force: true })
  }
}

function countOf (stdout: string): number | undefined {
  try { return (JSON.parse(stdout.trim().split('\n')[0] ?? '') as { n?: number }).n } catch { return undefined }
}
