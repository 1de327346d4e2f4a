import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
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

describe('a look at the lock beside a starting node', () => {
  // status, peers and append look at node.lock by taking it for an instant (NodeLock.isHeld).
  // A node starting in that instant waits it out instead of taking the look for a running node.
  it('`run` starts while another process holds node.lock for a moment, and refuses one that keeps it', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const lockFile = join(dir, 'node.lock')
    // Another process holding the lock: taken, reported on stdout, released after `ms`.
    const hold = (ms: number): { held: Promise<void>, exit: Promise<unknown>, kill: () => void } => {
      const child = spawn(process.execPath, ['-e', HOLDER, lockFile, String(ms)], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] })
      const held = new Promise<void>(resolve => { child.stdout.once('data', () => { resolve() }) })
      return { held, exit: once(child, 'exit'), kill: () => { child.kill('SIGKILL') } }
    }
    const look = hold(300)
    await look.held
    const run = spawnPetal(['--dir', dir, 'run', ...LOOPBACK])
    await started(run)
    await look.exit
    run.child.kill('SIGINT')
    expect((await run.exit).code).toBe(0)

    const keeper = hold(20_000)
    await keeper.held
    const refused = await petal(['--dir', dir, 'run', ...LOOPBACK])
    keeper.kill()
    await keeper.exit
    expect(refused.code).toBe(4)
    expect(refused.stderr).toContain('ALREADY_RUNNING')
  }, 60_000)
})

const HOLDER = `
const Database = require('better-sqlite3')
const db = new Database(process.argv[1])
db.exec('BEGIN EXCLUSIVE')
process.stdout.write('held\\n')
setTimeout(() => { db.exec('ROLLBACK'); db.close(); process.exit(0) }, Number(process.argv[2]))
`
