import { afterAll, describe, expect, it } from 'vitest'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { extendChain, fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { armFault, faultEnv, faultResult, faultShim } from '../helpers/fault-shim.js'
import { addrOf, startNode, stopAll } from '../helpers/network.js'
import { petal } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { faultedNode } from '../helpers/faulted-node.js'
import { petalInProcess } from '../helpers/cli.js'

// Failing I/O under the data directory, injected by the LD_PRELOAD shim of
// test/helpers/fault-shim.c (compiled here with the system's cc), against the built CLI. Each case
// is a defect the fault torture found (`npm run torture:crash -- --faults`, session 33).
afterAll(stopAll)
const withCc = faultShim() !== undefined

describe.runIf(withCc)('I/O faults under the data directory', () => {
  it('pull: a failing disk fails the pull with IO_ERROR, not exit 0 below the peer\'s tip', async () => {
    const alice = fixtureKey('alice')
    const { chain, dir: sDir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 4, 1)
    const tip = chain.tip().hash
    chain.close()
    const s = await startNode(sDir, { key: alice })
    const dir = join(tmpDir(), 'pulled')
    mkdirSync(dir)
    // The first fsync of a downloaded block in tmp/ fails (the genesis's file and seal take the
    // first two), once: the disk's next fsync succeeds.
    const f = faultEnv({ dir, ops: ['fsync'], nth: 3, match: join(dir, 'tmp') + '/' })
    const r = await petal(['--dir', dir, '--json', 'pull', addrOf(s)], f.env)
    expect(faultResult(f).injected).toBe(1)
    // Before: the failure ruled the peer's branch out, the sync went idle and the pull printed
    // success below the peer's tip with exit 0. Now it fails with the disk's error (or, had the
    // block been fetched again before the pull looked, ends at the tip).
    if (r.code === 0) expect(JSON.parse(r.stdout)).toMatchObject({ hash: tip })
    else {
      expect(r.stderr).toMatch(/\[IO_ERROR\]/)
      expect(r.stderr).toMatch(/hint: /)
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/)
    }
    // Running it again with a sound disk finishes it.
    const again = await petal(['--dir', dir, '--json', 'pull', addrOf(s)])
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({ hash: tip })
  }, 90_000)

  it('signimportblock: a failed rename of the block file leaves no seal above the tip', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const src = makeSqlite(join(tmpDir(), 'src.db'), 10, 1)
    // The second rename into 0000/ is the block file's (its seal's goes first).
    const f = faultEnv({ dir, ops: ['rename'], nth: 2, match: '/0000/block_' })
    const r = await petal(['--dir', dir, 'signimportblock', src], f.env)
    expect(faultResult(f).log.join('\n')).toMatch(/block_00000001\.db$/)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/\[IO_ERROR\]/)
    // Before: 0000/block_00000001.sig stayed, above the tip, until the next writer's recovery.
    expect(readdirSync(join(dir, '0000')).sort()).toEqual(['block_00000000.db', 'block_00000000.sig'])
    const v = await petal(['--dir', dir, 'verify'])
    expect(v.code, v.stderr).toBe(0)
  }, 60_000)

  it('POST /records on a full disk: 503 DISK_FULL with its hint, not API_INTERNAL', async () => {
    // Every write of the pending store fails with ENOSPC once armed (after the start-up).
    const { node, fault: f, url, token } = await faultedNode({ ops: ['write'], nth: 1, sticky: true, errno: 'ENOSPC', match: '/pending.db', armed: false })
    try {
      const post = async (): Promise<Response> => await fetch(url + 'api/v1/records/kept', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify([{ a: 1 }]) })
      expect((await post()).status).toBe(202)
      armFault(f)
      const r = await post()
      const body = await r.json() as { error: { code: string, hint?: string } }
      expect(faultResult(f).injected).toBeGreaterThan(0)
      // Before: 500 API_INTERNAL, "this is a bug: please report it".
      expect(r.status).toBe(503)
      expect(body.error.code).toBe('DISK_FULL')
      expect(body.error.hint).toMatch(/free space/)
    } finally { await node.stop() }
  }, 60_000)

  it('a database the disk refuses to open for writing is IO_ERROR, not a permissions problem', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const rows = join(tmpDir(), 'rows.ndjson')
    writeFileSync(rows, '{"a":1}\n')
    // SQLite retries a failed read-write open read-only, silently: its writes then fail as
    // "attempt to write a readonly database".
    const f = faultEnv({ dir, ops: ['open'], nth: 1, sticky: true, errno: 'ENOSPC', match: '/pending.db' })
    const r = await petal(['--dir', dir, 'append', 'kept', rows], f.env)
    expect(faultResult(f).injected).toBeGreaterThan(0)
    // Before: INGEST_STORE_UNAVAILABLE, "run as a user who can write there".
    expect(r.stderr).toMatch(/\[IO_ERROR\]/)
    expect(r.stderr).toMatch(/hint: free space/)
    const again = await petal(['--dir', dir, 'append', 'kept', rows])
    expect(again.code, again.stderr).toBe(0)
  }, 60_000)

  it('the pending store\'s -shm failing under its open is IO_ERROR, not a damaged pending.db', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const rows = join(tmpDir(), 'rows.ndjson')
    writeFileSync(rows, '{"a":1}\n')
    expect((await petal(['--dir', dir, 'append', 'kept', rows])).code).toBe(0)
    const f = faultEnv({ dir, ops: ['write'], nth: 1, match: '/pending.db-shm' })
    const r = await petal(['--dir', dir, 'append', 'kept', rows], f.env)
    expect(faultResult(f).injected).toBe(1)
    // Before: INGEST_STORE_UNAVAILABLE, "restore it from a backup".
    expect(r.stderr).toMatch(/\[IO_ERROR\]/)
    expect(r.stderr).not.toMatch(/backup/)
  }, 60_000)
})
