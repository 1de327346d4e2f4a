import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { waitFor } from './wait.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'petal.js')

export interface CliResult { code: number | null, stdout: string, stderr: string }

/** Run the built `petal` CLI to completion. */
export async function petal (args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  p.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>(resolve => p.on('close', c => { resolve(c) }))
  return { code, stdout, stderr }
}

/** `petal status --json` of a data directory (reads the index; works while a node runs). */
export async function statusOf (dir: string): Promise<{ tip: { height: number, hash: string }, side_blocks: number, node: { running: boolean } }> {
  const r = await petal(['--dir', dir, '--json', 'status'])
  if (r.code !== 0) throw new Error(`petal status failed (${r.code}): ${r.stderr}`)
  return JSON.parse(r.stdout) as { tip: { height: number, hash: string }, side_blocks: number, node: { running: boolean } }
}

export interface RunningNode {
  proc: ChildProcess
  /** First full listen address printed on stdout. */
  addr: string
  stdout: () => string
  stderr: () => string
  /** SIGTERM and wait; resolves to the exit status. */
  stop: () => Promise<number | null>
  kill9: () => Promise<void>
  /** Resolves when the process has ended by itself or otherwise, with the signal that ended it. */
  ended: Promise<NodeJS.Signals | null>
}

/** Spawn a long-running `petal … run|pull --follow` and wait for its listen address. */
export async function spawnNode (args: string[], env: Record<string, string> = {}): Promise<RunningNode> {
  const proc = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  proc.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  proc.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  let endSignal: NodeJS.Signals | null = null
  const closed = new Promise<number | null>(resolve => proc.on('close', (c, sig) => { endSignal = sig; resolve(c) }))
  let exited = false
  void closed.then(() => { exited = true })
  const addr = await waitFor(() => {
    if (exited) throw new Error(`node exited early:\n${err}`)
    return out.split('\n').find(l => /^\/ip4\/.+\/p2p\/\w+$/.test(l))
  }, { timeout: 30_000, what: 'the node to print its listen address' })
  return {
    proc,
    addr,
    stdout: () => out,
    stderr: () => err,
    stop: async () => { if (!exited) proc.kill('SIGTERM'); return await closed },
    kill9: async () => { proc.kill('SIGKILL'); await closed },
    ended: closed.then(() => endSignal)
  }
}

/** The HTTP API's URL a node prints on its own line (it may follow the p2p address spawnNode waits for). */
export async function httpUrlOf (node: RunningNode): Promise<string> {
  return await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(node.stdout())?.[1], { timeout: 30_000, what: 'the node\'s HTTP URL' })
}
