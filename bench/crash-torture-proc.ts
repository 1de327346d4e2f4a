/**
 * The processes and the directory checks of bench/crash-torture.ts: run the built CLI (or the copy
 * named by `--bin`), kill it, read what it left.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { Chain, signImport } from '../src/chain/index.js'
import { signTipCheckpointsLocked } from '../src/proof/index.js'
import { DataDir, Keystore } from '../src/storage/index.js'
import { makeSqlite } from '../test/helpers/chain.js'

const argv = process.argv.slice(2)
// --bin: a copy of a build (bin/, dist/, package.json, genesis/), so that rebuilding the tree
// meanwhile does not pull files from under the processes tried.
const BIN = argv.includes('--bin') ? argv[argv.indexOf('--bin') + 1] as string : join(import.meta.dirname, '..', 'bin', 'petal.js')

export interface Run { code: number | null, signal: string | null, stdout: string, stderr: string, ms: number }

/**
 * Where a path's time goes (wall ms): each CLI command under `petal <command>`, the in-process
 * checks under the names `timed` gives them. Printed and emptied after each path (crash-torture.ts).
 */
export const spent: Record<string, number> = {}
const add = (name: string, ms: number): void => { spent[name] = (spent[name] ?? 0) + ms }
/** Run `fn`, its wall time added to `spent[name]`. */
export async function timed<T> (name: string, fn: () => T | Promise<T>): Promise<T> {
  const t0 = performance.now()
  try { return await fn() } finally { add(name, performance.now() - t0) }
}
/** `spent` as one line, largest first, and emptied. */
export function spentLine (): string {
  const line = Object.entries(spent).sort((a, b) => b[1] - a[1]).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`).join(', ')
  for (const k of Object.keys(spent)) delete spent[k]
  return line
}
export interface Proc { child: ChildProcess, out: () => string, done: Promise<Run> }

export function start (argv: string[], env: Record<string, string> = {}): Proc {
  const t0 = performance.now()
  const child = spawn(process.execPath, [BIN, ...argv], { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const command = `petal ${argv.filter((a, k) => !a.startsWith('-') && argv[k - 1] !== '--dir')[0] ?? ''}`
  const done = new Promise<Run>(resolve => { child.on('close', (code, signal) => { const ms = performance.now() - t0; add(command, ms); resolve({ code, signal, stdout, stderr, ms }) }) })
  return { child, out: () => stdout, done }
}
export async function petal (argv: string[], env: Record<string, string> = {}): Promise<Run> { return await start(argv, env).done }
export { sleep } from '../src/util/index.js'

/** Run `p` and kill it -9 after `delay` ms (unless it ended first). */
export async function killAfter (p: Proc, delay: number): Promise<{ run: Run, killed: boolean }> {
  const timer = setTimeout(() => { p.child.kill('SIGKILL') }, delay)
  const run = await p.done
  clearTimeout(timer)
  return { run, killed: run.signal === 'SIGKILL' }
}
/** The coded error and the first command in its hint, from a failed command's stderr. */
export function codedError (stderr: string): { code: string, command?: string } | undefined {
  const m = /\[([A-Z_]+)\]/.exec(stderr)
  if (m === null) return undefined
  const hint = /hint: .*?`(petal [^`]+)`/.exec(stderr)
  return { code: m[1] as string, command: hint?.[1] }
}

/** Temporary and leftover files anywhere in dir (after a command has opened it). */
export function leftovers (dir: string): string[] {
  const found: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) { walk(p); continue }
      const rel = relative(dir, p)
      if (/\.tmp|^tmp\/|journal\.json|\.partial/.test(rel)) found.push(rel)
    }
  }
  if (existsSync(dir)) walk(dir)
  return found
}

/** Canonical block files above the index's tip, and index rows whose file differs or is missing. */
export function indexAgrees (dir: string): string[] {
  const problems: string[] = []
  const c = Chain.open(dir, { readonly: true })
  try {
    const tip = c.tip().height
    for (const shard of readdirSync(dir).filter(n => /^[0-9a-f]{4}$/.test(n))) {
      for (const f of readdirSync(join(dir, shard))) {
        const m = /^block_([0-9a-f]{8})\.(db|sig)$/.exec(f)
        if (m !== null && parseInt(m[1] as string, 16) > tip) problems.push(`${shard}/${f} above the tip ${tip}`)
      }
    }
    for (let h = 0; h <= tip; h++) {
      const rec = c.get(h)
      if (rec === undefined) { problems.push(`no index row at ${h}`); continue }
      const p = c.dir.blockPath(h)
      if (!existsSync(p) || statSync(p).size !== rec.size) problems.push(`file at ${h} missing or of another size`)
    }
  } finally { c.close() }
  return problems
}

/** A fresh SQLite file of `rows` rows (the tests' makeSqlite adds to a file that exists). */
export function sqliteFile (path: string, rows: number, seedValue: number): string {
  rmSync(path, { force: true })
  return makeSqlite(path, rows, seedValue)
}

/**
 * Blocks signed onto the chain in `dir` in this process, one of each file `fileOf(b)` makes, as
 * `petal signimportblock` signs them (its tip's checkpoints in each block's commit): the source
 * chains of the pull and reindex paths. Made by 60 CLI processes, the reindex path's took 153 s
 * of a three-iteration run's 205 s at load 20 (session 50); nothing of it is checked.
 */
export async function signBlocks (dir: string, count: number, fileOf: (b: number) => string): Promise<void> {
  const chain = Chain.open(dir)
  try {
    const key = new Keystore(new DataDir(dir).keystore).load()
    for (let b = 0; b < count; b++) await signImport(chain, fileOf(b), key, { afterAccept: () => { signTipCheckpointsLocked(chain, key) } })
  } finally {
    chain.close()
  }
}
