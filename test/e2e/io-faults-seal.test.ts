import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { armFault, faultEnv, faultResult, faultShim } from '../helpers/fault-shim.js'
import { stopAll } from '../helpers/network.js'
import { httpUrlOf, petal, spawnNode } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// A node sealing records whose open of the block it builds in tmp/ fails once (ENOSPC, EIO): the
// fault torture's run lane, seed 355 #8 (mend35: "exited 1 without a coded error"), reproduced by
// mend36. The seal's iterator over the batch's rows, made before the block's open, was never
// started nor ended: pending.db's sealing connection stayed "busy executing a query", every later
// seal failed with that, the acknowledged rows stayed pending, and the node's stop ended in
// "internal error: This database connection is busy executing a query" (exit 1).
afterAll(stopAll)
const withCc = faultShim() !== undefined

describe.runIf(withCc)('a seal whose block the disk refuses to open once', () => {
  it.each(['ENOSPC', 'EIO'] as const)('%s: the next seal takes the rows, and the node stops cleanly', async (errno) => {
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const token = (await petal(['--dir', dir, 'tokens', 'create'])).stdout.trim()
    // SQLite's first open of a file in tmp/ once armed: the block the seal builds.
    const f = faultEnv({ dir, ops: ['open'], nth: 1, errno, match: join(dir, 'tmp') + '/', caller: 'better_sqlite3.node', armed: false })
    const node = await spawnNode(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', '127.0.0.1:0', '--seal-every', '0.2'], f.env)
    let code: number | null
    try {
      const url = await httpUrlOf(node)
      armFault(f)
      const r = await fetch(url + 'api/v1/records/kept', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '[{"a": 1}, {"a": 2}]' })
      expect(r.status).toBe(202)
      const { receipts } = await r.json() as { receipts: string[] }
      await waitFor(() => faultResult(f).injected === 1, { what: 'the fault' })
      // Before: pending for ever, each later seal failing "busy executing a query".
      await waitFor(async () => {
        for (const id of receipts) if ((await (await fetch(url + `api/v1/receipts/${id}`)).json() as { state: string }).state !== 'sealed') return false
        return true
      }, { timeout: 60_000, what: 'the rows to be sealed after the failed seal' })
    } finally {
      code = await node.stop()
    }
    expect(node.stderr()).toMatch(/sealing pending rows failed; retrying/)
    expect(node.stderr()).not.toMatch(/busy executing a query|internal error/)
    expect(code, node.stderr()).toBe(0)
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
  }, 120_000)
})
