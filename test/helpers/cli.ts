import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { tmpDir } from './tmp.js'

export const CLI = join(import.meta.dirname, '..', '..', 'bin', 'petal.js')

export interface Exit { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

export interface Spawned { child: ChildProcess, exit: Promise<Exit> }

/** Start the built `petal` CLI (`cli`: another installation's, helpers/install.ts) as a separate process (run `npm run build` first). */
export function spawnPetal (args: string[], o: { env?: Record<string, string>, cwd?: string, nodeOptions?: string[], cli?: string } = {}): Spawned {
  const child = spawn(process.execPath, [...o.nodeOptions ?? [], o.cli ?? CLI, ...args], { cwd: o.cwd, env: { ...process.env, NO_COLOR: '1', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const exit = new Promise<Exit>(resolve => { child.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) }) })
  return { child, exit }
}

const IMPORT_LOGGER = join(import.meta.dirname, 'log-imports.mjs')

/** Run `petal` (`cli`: another installation's, helpers/install.ts) to completion with the URL of every module it loads recorded in `log`, one per line. */
export async function petalLogged (args: string[], o: { log: string, env?: Record<string, string>, cwd?: string, cli?: string }): Promise<Exit> {
  const child = spawn(process.execPath, ['--import', IMPORT_LOGGER, o.cli ?? CLI, ...args], { cwd: o.cwd, env: { ...process.env, NO_COLOR: '1', ...o.env, PETAL_TEST_IMPORT_LOG: o.log }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  return await new Promise(resolve => { child.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) }) })
}

/** Run `petal` (`cli`: another installation's, helpers/install.ts) to completion. */
export async function petal (args: string[], o: { env?: Record<string, string>, cwd?: string, cli?: string } = {}): Promise<Exit> {
  return await spawnPetal(args, o).exit
}

/** Run the CLI in this process (no build needed): its exit status and what it wrote. */
export async function petalInProcess (args: string[], o: { env?: Record<string, string | undefined>, stderrIsTTY?: boolean, signal?: AbortSignal } = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  const { runCli } = await import('../../src/cli/program.js')
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: s => { stdout += s },
    stderr: s => { stderr += s },
    env: { PETAL_DIR: undefined, PETAL_PASSPHRASE: undefined, PETAL_LOG_LEVEL: undefined, ...o.env },
    stderrIsTTY: o.stderrIsTTY === true,
    packageRoot: join(import.meta.dirname, '..', '..')
  }, o.signal)
  return { code, stdout, stderr }
}

/** A data directory `name` in a new temporary folder `work`, made by `petal init` in this process (a file's beforeAll). */
export async function initInProcess (name: string): Promise<{ work: string, dir: string }> {
  const work = tmpDir()
  const dir = join(work, name)
  const r = await petalInProcess(['--dir', dir, 'init'])
  if (r.code !== 0) throw new Error(`petal init failed (${r.code}): ${r.stderr}`)
  return { work, dir }
}

/** The hint line of the CLI's error output (empty when it printed none). */
export const hintOf = (stderr: string): string => /\n {2}hint: (.*)\n/.exec(stderr)?.[1] ?? ''
