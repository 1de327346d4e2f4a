import { spawn } from 'node:child_process'
import { once } from 'node:events'
import type { NodeState } from '../../src/node/state-file.js'
import { processStopped } from '../../src/util/index.js'
import { waitFor } from './wait.js'

/** A process that holds an SQLite lock on a file and is stopped (SIGSTOP), as Ctrl-Z leaves one. */
export interface StoppedHolder {
  pid: number
  /** Settles when the process has exited. */
  exited: Promise<unknown>
  /** SIGKILL if it still runs (for `finally` and cleanups). */
  kill: () => void
}

/**
 * Spawn a process that takes an exclusive SQLite lock on `file` (as node.lock is held) and stops
 * itself; resolves once it is stopped. Resumed (SIGCONT), a look (`keeps: false`) lets go and
 * exits; a node or a pull (`keeps: true`) keeps the lock until it is ended (SIGTERM).
 */
export async function stoppedLockHolder (file: string, o: { keeps: boolean }): Promise<StoppedHolder> {
  const then = o.keeps ? 'setInterval(() => {}, 1000)' : 'db.close()'
  const code = `const db = new (require('better-sqlite3'))(process.argv[1]); db.exec('BEGIN EXCLUSIVE'); process.kill(process.pid, 'SIGSTOP'); ${then}`
  const child = spawn(process.execPath, ['-e', code, file], { cwd: process.cwd(), stdio: 'ignore' })
  const exited = once(child, 'exit')
  const pid = child.pid ?? 0
  const kill = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') }
  try {
    await waitFor(() => processStopped(pid), { what: 'the lock holder to stop', timeout: 10_000 })
  } catch (err) {
    kill()
    throw err
  }
  return { pid, exited, kill }
}

/** The node-state.json a pull (`petal pull`) with process id `pid` writes while it syncs. */
export function pullNodeState (pid: number): NodeState {
  const now = new Date().toISOString()
  return { pid, peer_id: 'p', role: 'follower', pull: true, listen: [], started_at: now, updated_at: now, sync: { state: 'syncing', height: 0 }, peers: [], banned: 0 }
}
