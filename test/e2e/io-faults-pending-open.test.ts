import { cpSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { faultEnv, faultResult, faultShim } from '../helpers/fault-shim.js'
import { faultedNode } from '../helpers/faulted-node.js'
import { stopAll } from '../helpers/network.js'
import { petal } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { petalInProcess } from '../helpers/cli.js'

// pending.db-wal the disk refuses to open once when a node opens its append connection (found by
// the fault torture, session 35, seed 352 #8): SQLite retries a failed read-write open read-only,
// silently, and that connection's every write then fails "attempt to write a readonly database".
afterAll(stopAll)
const withCc = faultShim() !== undefined

describe.runIf(withCc)('pending.db-wal the disk refuses to open once', () => {
  it('a node whose append connection got a read-only log opens it again: POST /records is 202 and sealed, not 503 PERMISSION_DENIED until a restart', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const rows = join(tmpDir(), 'rows.ndjson')
    writeFileSync(rows, '{"a":1}\n')
    // pending.db exists with a table: the node opens it, then its append connection.
    expect((await petal(['--dir', dir, 'append', 'kept', rows])).code).toBe(0)
    // The node's opens of pending.db-wal: its main connection's first, its append connection's second.
    const { node, fault: f, url, token } = await faultedNode({ ops: ['open'], nth: 2, errno: 'ENOSPC', match: '/pending.db-wal' }, { dir })
    try {
      expect(faultResult(f).injected).toBe(1)
      const post = async (): Promise<Response> => await fetch(url + 'api/v1/records/kept', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' }, body: '{"a":2}\n{"a":3}\n' })
      const r = await post()
      // Before: 503 PERMISSION_DENIED "attempt to write a readonly database", for every POST until a restart.
      expect(r.status, await r.clone().text()).toBe(202)
      expect((await post()).status).toBe(202)
    } finally { await node.stop() }
    // Every acknowledged row (the append's one and the two posts' four) is sealed into a block.
    const sealed = await petal(['--dir', dir, '--json', 'seal'])
    expect(sealed.code, sealed.stderr).toBe(0)
    expect((JSON.parse(sealed.stdout) as { rows: number }).rows).toBe(5)
    const q = await petal(['--dir', dir, 'query', 'SELECT count(*) AS n FROM kept'])
    expect(q.stdout.trim()).toBe('{"n":5}')
  }, 90_000)

  it('append: a set-up statement of a new pending.db whose fsync fails says to run it again, not to look with `petal status` (which does not show pending.db)', async () => {
    const base = join(tmpDir(), 'base')
    expect((await petalInProcess(['--dir', base, 'init'])).code).toBe(0)
    const rows = join(tmpDir(), 'rows.ndjson')
    writeFileSync(rows, '{"a":1}\n{"a":2}\n')
    let setUp = 0
    // Each fsync of pending.db in turn, until one is no longer the open's (the append's own commit).
    for (let nth = 1; nth <= 40; nth++) {
      const dir = join(tmpDir(), `d${nth}`)
      cpSync(base, dir, { recursive: true })
      const f = faultEnv({ dir, ops: ['fsync'], nth, match: '/pending.db', errno: 'EIO' })
      const r = await petal(['--dir', dir, 'append', 'kept', rows], f.env)
      expect(faultResult(f).injected).toBe(1)
      if (r.code === 0 || r.stderr.includes('flush a commit to')) break
      setUp++
      // Before: "the change may still be recorded …: look (`petal status`) before running the command again".
      expect(r.stderr, `fsync #${nth}`).toMatch(/the disk failed to flush the set-up of the pending store .* \[IO_ERROR\]\n {2}hint: check the disk \(dmesg, fsck\), then run the command again: no record was being written/)
      const again = await petal(['--dir', dir, 'append', 'kept', rows])
      expect(again.code, again.stderr).toBe(0)
      if (nth % 4 !== 1) continue // the rows kept: checked in a quarter of the cases
      const sealed = await petal(['--dir', dir, '--json', 'seal'])
      expect((JSON.parse(sealed.stdout) as { rows: number }).rows, `fsync #${nth}`).toBe(2)
    }
    expect(setUp).toBeGreaterThan(3)
  }, 600_000)
  // The append connection's log refused at its open and at the one retry (a disk that stays full):
  // the fault torture (session 50, seed 5092) met INGEST_STORE_UNAVAILABLE "attempt to write a
  // readonly database" where the main connection's same refusal is the disk's IO_ERROR.
  it('append: a log the disk refuses at every open after the first is the disk\'s IO_ERROR, and the rows already kept stay', async () => {
    const dir = join(tmpDir(), 'full')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const rows = join(tmpDir(), 'rows.ndjson')
    writeFileSync(rows, '{"a":1}\n')
    expect((await petal(['--dir', dir, 'append', 'kept', rows])).code).toBe(0)
    // Opens of pending.db-wal: the main connection's first, the append connection's and its retry after.
    const f = faultEnv({ dir, ops: ['open'], nth: 2, sticky: true, errno: 'ENOSPC', match: '/pending.db-wal' })
    const r = await petal(['--dir', dir, 'append', 'kept', rows], f.env)
    expect(faultResult(f).injected).toBeGreaterThanOrEqual(2)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/the disk refused to open .*pending\.db for writing, though this user may write it: .*\[IO_ERROR\]\n {2}hint: free space on the disk/)
    const sealed = await petal(['--dir', dir, '--json', 'seal'])
    expect(sealed.code, sealed.stderr).toBe(0)
    expect((JSON.parse(sealed.stdout) as { rows: number }).rows).toBe(1)
  }, 90_000)
})
