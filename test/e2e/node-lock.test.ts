import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { petal, spawnPetal, type Spawned } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off']

async function started (run: Spawned): Promise<void> {
  let out = ''
  run.child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  await waitFor(() => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//m.test(out), { what: 'the node to listen', timeout: 30_000 })
}

describe('one node per data directory', () => {
  it('refuses a second `run`, and a node killed with -9 leaves no stale claim behind', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const first = spawnPetal(['--dir', dir, 'run', ...LOOPBACK])
    await started(first)
    const second = await petal(['--dir', dir, 'run', ...LOOPBACK])
    expect(second.code).toBe(4)
    expect(second.stderr).toContain('ALREADY_RUNNING')
    // Other commands run beside it.
    expect((await petal(['--dir', dir, 'status'])).code).toBe(0)

    first.child.kill('SIGKILL')
    await first.exit
    // node-state.json is left behind, but the lock died with the process.
    const st = JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout) as { node: { running: boolean } }
    expect(st.node.running).toBe(false)
    const third = spawnPetal(['--dir', dir, 'run', ...LOOPBACK])
    await started(third)
    third.child.kill('SIGINT')
    expect((await third.exit).code).toBe(0)
  })
})
