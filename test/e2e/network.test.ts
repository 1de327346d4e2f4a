import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { petal, spawnNode, statusOf, type RunningNode } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const nodes: RunningNode[] = []
afterAll(async () => { await Promise.all(nodes.map(async n => await n.stop())) })

// No HTTP API: the test reads status with the CLI, and the API's start is ~1 s of CPU per node.
const LISTEN = ['--listen', '/ip4/127.0.0.1/tcp/0', '--http', 'off']

async function run (dir: string, args: string[]): Promise<RunningNode> {
  const n = await spawnNode(['--dir', dir, 'run', ...LISTEN, ...args])
  nodes.push(n)
  return n
}

describe('petal run and petal pull (separate processes)', () => {
  it('three nodes and a pull converge on the same tip hash; blocks signed by another process while a node runs are announced', async () => {
    const root = tmpDir()
    const [dirA, dirB, dirC, dirD] = ['a', 'b', 'c', 'd'].map(n => join(root, n)) as [string, string, string, string]
    const work = tmpDir()
    const sign = async (i: number): Promise<void> => {
      const r = await petal(['--dir', dirA, 'signimportblock', makeSqlite(join(work, `${i}.db`), 4, i)])
      expect(r.code, r.stderr).toBe(0)
    }

    // A creates the default local chain and runs; two blocks are signed into it from another process.
    const a = await run(dirA, ['--init'])
    await sign(1)
    await sign(2)

    // B and C get the chain with `pull`, then run. C is told only about B.
    const pb = await petal(['--dir', dirB, 'pull', a.addr])
    expect(pb.code, pb.stderr).toBe(0)
    expect(pb.stdout).toMatch(/all verified/)
    // The pull left the query mirror ready: a query that does not sync sees the whole chain.
    expect((await petal(['--dir', dirB, 'query', '--no-sync', 'SELECT max(height) AS h FROM _blocks'])).stdout).toBe('{"h":2}\n')
    const b = await run(dirB, ['--bootstrap', a.addr])
    const pc = await petal(['--dir', dirC, 'pull', b.addr])
    expect(pc.code, pc.stderr).toBe(0)
    const c = await run(dirC, ['--bootstrap', b.addr])

    await sign(3)
    await sign(4)
    const tip = await waitFor(async () => {
      const s = await Promise.all([dirA, dirB, dirC].map(statusOf))
      return s.every(x => x.tip.height === 4 && x.tip.hash === s[0]?.tip.hash) ? s[0]?.tip : undefined
    }, { timeout: 60_000, interval: 200, what: 'A, B and C to reach the same tip' })

    const st = await statusOf(dirC)
    expect(st.node.running).toBe(true)
    const peers = await petal(['--dir', dirB, '--json', 'peers'])
    expect(JSON.parse(peers.stdout).peers.length).toBeGreaterThanOrEqual(1)
    // Which peer is the signatory's node, from what its status proved (user52): A's key on A.
    const aKey = (JSON.parse((await petal(['--dir', dirA, '--json', 'mykeys'])).stdout) as Array<{ id: string }>)[0]?.id
    const aPeer = JSON.parse((await petal(['--dir', dirA, '--json', 'status'])).stdout).node.peer_id as string
    await waitFor(async () => (JSON.parse((await petal(['--dir', dirB, '--json', 'peers'])).stdout) as { peers: Array<{ id: string, signer?: string | null }> }).peers.find(p => p.id === aPeer)?.signer === aKey, { what: 'B\'s peers to name A\'s key' })
    expect((await petal(['--dir', dirB, 'peers'])).stdout).toMatch(new RegExp(`^${aPeer} +${(aKey ?? '').slice(0, 14)} +`, 'm'))

    // D pulls from C (with the genesis pinned) and ends on the same tip hash.
    const genesis = JSON.parse((await petal(['--dir', dirA, '--json', 'status'])).stdout).chain_id as string
    const pd = await petal(['--dir', dirD, '--json', 'pull', c.addr, '--genesis', genesis])
    expect(pd.code, pd.stderr).toBe(0)
    expect(JSON.parse(pd.stdout)).toMatchObject({ hash: tip?.hash, height: 4, verified: true })

    // A wrong --genesis is refused.
    const bad = await petal(['--dir', join(root, 'e'), 'pull', c.addr, '--genesis', 'f'.repeat(64)])
    expect(bad.code).toBe(4)
    expect(bad.stderr).toMatch(/GENESIS_MISMATCH/)

    for (const n of [a, b, c]) expect(await n.stop()).toBe(0)
    nodes.length = 0
    expect((await statusOf(dirA)).node.running).toBe(false)
  }, 180_000)
})
