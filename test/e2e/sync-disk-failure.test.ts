import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { IndexDb } from '../../src/storage/index.js'
import { MAX_GROUP } from '../../src/sync/window-limits.js'
import { extendChain, fixtureKey, newTestChain } from '../helpers/chain.js'
import { faultEnv, faultResult, faultShim } from '../helpers/fault-shim.js'
import { cloneGenesis } from '../helpers/network.js'
import { spawnNode, type RunningNode } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

// A node's own disk failing while it catches up is no fault of the branch it follows: the sync
// tries the same tip again within a few seconds (docs/cli.md, "petal pull"), whatever type the failure
// reaches the syncer as. Faults from the LD_PRELOAD shim (test/helpers/fault-shim.c).
const nodes: RunningNode[] = []
afterAll(async () => { for (const n of nodes) await n.stop() })
const withCc = faultShim() !== undefined
const alice = fixtureKey('alice')

function tipOf (dir: string): { height: number, hash: string } {
  const idx = IndexDb.open(join(dir, 'chain.db'), { readonly: true })
  try {
    const t = idx.tip()
    return { height: t?.height ?? -1, hash: t?.hash ?? '' }
  } finally { idx.close() }
}

async function run (dir: string, args: string[], env: Record<string, string> = {}): Promise<RunningNode> {
  const n = await spawnNode(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off', ...args], env)
  nodes.push(n)
  return n
}

describe.runIf(withCc)('a catch-up whose own disk fails', () => {
  it('a typed failure of the group\'s placement (its deferred fsync) does not rule the branch out: the sync goes on to the tip', async () => {
    // More blocks than a group takes: the failing group is not the last.
    const { chain, dir: sDir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, MAX_GROUP + 20, 1)
    chain.close()
    const want = tipOf(sDir)
    const tDir = await cloneGenesis(chain)
    const s = await run(sDir, [])
    // The first group's fsync of chain.db-wal after its commit (Petal's own, through libuv) fails
    // once: a StorageError IO_ERROR ("not yet known to be on disk") reaches the syncer.
    const f = faultEnv({ dir: tDir, ops: ['fsync'], nth: 1, match: '/chain.db-wal', caller: 'node' })
    const t = await run(tDir, ['--bootstrap', s.addr], f.env)
    await waitFor(() => faultResult(f).injected === 1, { timeout: 60_000, what: 'the fault' })
    // Before: the peer's tip was ruled out for a minute (failedTtlMs) and the node stayed below it.
    // The claim is left alone for at most 5 s.
    await waitFor(() => tipOf(tDir).hash === want.hash, { timeout: 30_000, interval: 100, what: 'the node to reach the peer\'s tip after its disk failed once' })
    expect(t.stderr()).toMatch(/IO_ERROR/)
    expect(await t.stop()).toBe(0)
    nodes.splice(nodes.indexOf(t), 1)
  }, 180_000)
})
