import { describe, expect, it } from 'vitest'
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { petal, spawnPetal, type Spawned } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { processStopped } from '../../src/util/index.js'
import { stoppedLockHolder } from '../helpers/stopped-holder.js'

const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off']

async function started (run: Spawned): Promise<void> {
  let out = ''
  run.child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  await waitFor(() => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//m.test(out), { what: 'the node to listen', timeout: 30_000 })
}

/** A new data directory, initialised. */
async function initialised (): Promise<string> {
  const dir = join(tmpDir(), 'data')
  expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
  return dir
}

/** `petal run` on `dir` (loopback only), once it listens. */
async function startedNode (dir: string): Promise<Spawned> {
  const run = spawnPetal(['--dir', dir, 'run', ...LOOPBACK])
  await started(run)
  return run
}

/** A node started on `dir` and stopped with Ctrl-C: its exit code. */
async function runAndStop (dir: string): Promise<number | null> {
  const run = await startedNode(dir)
  run.child.kill('SIGINT')
  return (await run.exit).code
}

describe('one node per data directory', () => {
  it('refuses a second `run`, and a node killed with -9 leaves no stale claim behind', async () => {
    const dir = await initialised()
    const first = await startedNode(dir)
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
    expect(await runAndStop(dir)).toBe(0)
  })
})

describe('status beside a look after a node was killed', () => {
  // A node killed with -9 leaves node-state.json; another command's look at node.lock (a second
  // `petal status` in that instant, or one stopped there) holds the lock, and status read the
  // dead node's file as the running node's: "running (pid N)", `"running": true`.
  it('a killed node\'s file is not taken for a running node while a look holds node.lock', async () => {
    const dir = await initialised()
    const node = await startedNode(dir)
    node.child.kill('SIGKILL')
    await node.exit
    const look = await stoppedLockHolder(join(dir, 'node.lock'), { keeps: false })
    try {
      const st = JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout) as { node: { running: boolean } }
      expect(st.node.running).toBe(false)
      const peers = JSON.parse((await petal(['--dir', dir, '--json', 'peers'])).stdout) as { running: boolean }
      expect(peers.running).toBe(false)
      // The dead node's pid reused by another process (here a `sleep`): alive, but not the lock's holder.
      const other = spawn('sleep', ['60'], { stdio: 'ignore' })
      try {
        const file = join(dir, 'node-state.json')
        writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')) as object, pid: other.pid }))
        const reused = JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout) as { node: { running: boolean } }
        expect(reused.node.running).toBe(false)
      } finally {
        other.kill('SIGKILL')
      }
    } finally {
      look.kill()
    }
  }, 60_000)
})

describe('a look at the lock beside a starting node', () => {
  // status, peers and append look at node.lock by taking it for an instant (NodeLock.isHeld).
  // A node starting in that instant waits it out instead of taking the look for a running node.
  it('`run` starts while another process holds node.lock for a moment, and refuses one that keeps it', async () => {
    const dir = await initialised()
    const lockFile = join(dir, 'node.lock')
    // Another process holding the lock: taken, reported on stdout, released after `ms`.
    const hold = (ms: number): { held: Promise<void>, exit: Promise<unknown>, kill: () => void } => {
      const child = spawn(process.execPath, ['-e', HOLDER, lockFile, String(ms)], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] })
      const held = new Promise<void>(resolve => { child.stdout.once('data', () => { resolve() }) })
      return { held, exit: once(child, 'exit'), kill: () => { child.kill('SIGKILL') } }
    }
    const look = hold(300)
    await look.held
    const run = await startedNode(dir)
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
    // No node-state.json names it: the holder the kernel knows is named.
    expect(refused.stderr).toContain('another process (pid ')
  }, 60_000)
})

describe('a look stopped while it holds the lock', () => {
  // A command stopped (Ctrl-Z) in the instant it looks at node.lock keeps it until it runs again.
  it('`run` says which process holds node.lock and that it is stopped; resumed as the hint says, the look ends and `run` starts', async () => {
    const dir = await initialised()
    const { pid, exited, kill } = await stoppedLockHolder(join(dir, 'node.lock'), { keeps: false })
    try {
      const refused = await petal(['--dir', dir, 'run', ...LOOPBACK])
      expect(refused.code, refused.stderr).toBe(4)
      expect(refused.stderr).toContain('[LOCK_HOLDER_STOPPED]')
      expect(refused.stderr).toContain(`process ${pid} (`)
      expect(refused.stderr).toContain(`kill -CONT ${pid}`)
      // The hint: resume it, then run the command again.
      process.kill(pid, 'SIGCONT')
      await exited
      expect(await runAndStop(dir)).toBe(0)
    } finally {
      kill()
    }
  }, 60_000)
})

describe('a node stopped with Ctrl-Z', () => {
  // A stopped process acts on no signal but SIGKILL until it runs again, and petal handles SIGTERM:
  // `kill PID` alone left the node stopped, holding node.lock. The hint's command must end it.
  it('a second `run` says it is stopped, and the command the hint gives to end it ends it', async () => {
    const dir = await initialised()
    const first = spawnPetal(['--dir', dir, 'run', ...LOOPBACK])
    const pid = first.child.pid ?? 0
    try {
      await started(first)
      process.kill(pid, 'SIGSTOP')
      await waitFor(() => processStopped(pid), { what: 'the node to stop', timeout: 10_000 })
      const refused = await petal(['--dir', dir, 'run', ...LOOPBACK])
      expect(refused.code, refused.stderr).toBe(4)
      expect(refused.stderr).toContain(`a node (pid ${pid}, stopped) is already running`)
      // status and peers say it is stopped (their peers and sync are from before), not only running.
      const st = await petal(['--dir', dir, 'status'])
      expect(st.stdout).toContain(`node        running (pid ${pid}) as signatory`)
      expect(st.stdout).toContain(`stopped     the node is stopped and does nothing (peers and sync above are from before): resume it (\`fg\` in its shell, or \`kill -CONT ${pid}\`)`)
      expect((JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout) as { node: { stopped?: string } }).node.stopped).toBe('job')
      const peers = await petal(['--dir', dir, 'peers'])
      expect(peers.stdout).toContain(`the node (pid ${pid}) is stopped and does nothing; the peers below are from before it stopped`)
      expect((JSON.parse((await petal(['--dir', dir, '--json', 'peers'])).stdout) as { stopped?: string }).stopped).toBe('job')
      const end = /end it \(`([^`]+)`/.exec(refused.stderr)?.[1]
      expect(end, refused.stderr).toBeDefined()
      execFileSync('sh', ['-c', end ?? 'false'])
      const exited = await Promise.race([first.exit, new Promise(resolve => setTimeout(resolve, 15_000, 'still running'))])
      expect(exited, `after \`${end ?? ''}\` the node is ${processStopped(pid) ? 'stopped' : 'running'}`).not.toBe('still running')
      expect(await runAndStop(dir)).toBe(0)
    } finally {
      first.child.kill('SIGKILL')
    }
  }, 60_000)
})

const HOLDER = `
const Database = require('better-sqlite3')
const db = new Database(process.argv[1])
db.exec('BEGIN EXCLUSIVE')
process.stdout.write('held\\n')
setTimeout(() => { db.exec('ROLLBACK'); db.close(); process.exit(0) }, Number(process.argv[2]))
`
