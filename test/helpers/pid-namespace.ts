import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { entryOf, loaderFor } from './src-entry.js'

/** Whether this process may start one in a new PID namespace with its own /proc (root, util-linux's unshare). */
export function unsharePid (): boolean {
  return process.platform === 'linux' && spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0
}

/** The wrapper that runs a command as pid 1 of a new PID namespace with its own /proc. */
export const IN_NEW_NAMESPACE = ['unshare', '--pid', '--fork', '--mount-proc']

export interface Held {
  /** What the script printed as its first line (JSON). */
  said: Record<string, unknown>
  /** Its pid as this process names it. */
  here: number
  /** Close its stdin (the scripts end then) and wait for its exit. */
  stop: () => Promise<void>
}

/**
 * Run an ES module `script` under node (importing src/ through nsImport), in a new PID namespace
 * (`own`: under IN_NEW_NAMESPACE), in this one, or under a command line of the caller's (`wrap`;
 * `here` is then the wrapper's pid); resolves once it has printed its first line, a JSON object.
 * The script keeps what it holds until its stdin closes. `loader`: node's options for what the
 * script imports instead of nsEntry's (src-entry.ts's loaderFor).
 */
export async function holdIn (script: string, o: ({ own: boolean } | { wrap: string[] }) & { loader?: string[] }): Promise<Held> {
  const own = 'own' in o && o.own
  const argv = [...'wrap' in o ? o.wrap : own ? IN_NEW_NAMESPACE : [], process.execPath, ...o.loader ?? nsLoader(), '--input-type=module', '-e', script]
  const child = spawn(argv[0] ?? '', argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<void>(resolve => { child.on('close', () => { resolve() }) })
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n'))) })
    void exited.then(() => { reject(new Error(`the holder exited first: ${err}`)) })
  })
  const pid = child.pid ?? 0
  // Under unshare --fork, node is unshare's one child (pid 1 in its namespace).
  const here = own ? Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()) : pid
  return { said: JSON.parse(line) as Record<string, unknown>, here, stop: async () => { child.stdin.end(); await exited } }
}

/** Run `argv` to its end in a new PID namespace (IN_NEW_NAMESPACE): its exit status and output. */
export function runInNewNamespace (argv: string[], env: Record<string, string> = {}): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(IN_NEW_NAMESPACE[0] ?? '', [...IN_NEW_NAMESPACE.slice(1), ...argv], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** What the scripts below, and the namespace tests' readers, import: namespace-entry.ts's bundle (the source, through tsx, without one). */
export const nsEntry = (): string => entryOf(join(import.meta.dirname, 'namespace-entry.ts'))
/** nsEntry as an import specifier in a script. */
export const nsImport = (): string => JSON.stringify(nsEntry())
/** node's options for a child that imports nsEntry (none for its bundle). */
export const nsLoader = (): string[] => loaderFor(nsEntry())

/**
 * A node as the state file knows one: it takes node.lock, writes node-state.json (so also holds
 * node-state.lock) and prints its pid. At the end of its stdin it stops (`release`) or dies
 * by SIGKILL (`kill`: its file stays, as a killed node's does).
 */
export function nodeScript (root: string, atEnd: 'release' | 'kill' = 'release'): string {
  const end = atEnd === 'kill' ? "void lock; process.kill(process.pid, 'SIGKILL')" : 'lock.release(); process.exit(0)'
  return `const { takeNodeLock, writeNodeState } = await import(${nsImport()})
const root = ${JSON.stringify(root)}; const lock = takeNodeLock(root); const now = new Date().toISOString()
await writeNodeState(root, { pid: process.pid, peer_id: '12D3KooWnode', role: 'signatory', listen: [], started_at: now, updated_at: now, sync: { state: 'idle', height: 0 }, peers: [], banned: 0 })
process.stdout.write(JSON.stringify({ pid: process.pid }) + '\\n')
process.stdin.resume(); process.stdin.on('end', () => { ${end} })`
}

/** node.lock taken and held, nothing written (a look at it, or a node stopped as it starts); prints its pid and whether it holds the lock. */
export function lockScript (root: string): string {
  return `const { NodeLock } = await import(${nsImport()})
const lock = NodeLock.tryAcquire(${JSON.stringify(root)}, 'node.lock', 5000)
process.stdout.write(JSON.stringify({ pid: process.pid, held: lock !== undefined }) + '\\n')
process.stdin.resume(); process.stdin.on('end', () => { lock?.release(); process.exit(0) })`
}
