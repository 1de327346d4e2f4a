import { closeSync, openSync, readFileSync, realpathSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { compileShim } from './c-shim.js'
import { tmpDir } from './tmp.js'

// The I/O fault-injection shim (test/helpers/fault-shim.c, session 33): compiled once per process
// with the system's `cc` into a temporary directory (never committed as a binary), then preloaded
// into a CLI run by the environment faultEnv returns.

/** Path of the compiled shim, or undefined with no C compiler. */
export function faultShim (): string | undefined {
  return compileShim('fault-shim')
}

/** `read` (session 34) counts reads of files under the directory; the others as in fault-shim.c. */
export type FaultClass = 'open' | 'write' | 'fsync' | 'rename' | 'read'
export interface FaultSpec {
  /** The data directory: only its files are touched. */
  dir: string
  ops: FaultClass[]
  /** Fail the nth counted call (1-based); 0 counts only. */
  nth: number
  errno?: 'EIO' | 'ENOSPC'
  /** Every counted call after the nth fails too (a disk that stays full). */
  sticky?: boolean
  /** Only paths containing this count. */
  match?: string
  /** Only calls from the object of this base name count: 'node' (node:fs, libuv) or 'better_sqlite3.node' (SQLite). */
  caller?: string
  /** Count nothing until armFault (a running node's requests, not its start-up). */
  armed?: boolean
}

export interface Fault { env: Record<string, string>, state: string, log: string }

/** The environment that preloads the shim for spec, with a fresh state file and log. */
export function faultEnv (spec: FaultSpec): Fault {
  const shim = faultShim()
  if (shim === undefined) throw new Error('no C compiler (cc) for the fault shim')
  // tmpDir: removed after the test file (the torture removes each itself)
  const work = tmpDir('petal-fault-')
  const state = join(work, 'state')
  const log = join(work, 'log')
  writeFileSync(state, Buffer.alloc(64))
  writeFileSync(log, '')
  const env: Record<string, string> = {
    LD_PRELOAD: shim,
    // libuv's io_uring would bypass libc's calls (Node 20 does not use it for files by default).
    UV_USE_IO_URING: '0',
    PETAL_FAULT_DIR: realpathSync(spec.dir),
    PETAL_FAULT_STATE: state,
    PETAL_FAULT_OPS: spec.ops.join(','),
    PETAL_FAULT_NTH: String(spec.nth),
    PETAL_FAULT_ERRNO: spec.errno ?? 'EIO',
    PETAL_FAULT_STICKY: spec.sticky === true ? '1' : '0',
    PETAL_FAULT_LOG: log
  }
  if (spec.match !== undefined) env.PETAL_FAULT_MATCH = spec.match
  if (spec.caller !== undefined) env.PETAL_FAULT_CALLER = spec.caller
  if (spec.armed === false) env.PETAL_FAULT_ARM = '1'
  return { env, state, log }
}

/** Start counting (a spec with armed: false): the processes see the state file's page at once. */
export function armFault (f: Fault): void {
  const fd = openSync(f.state, 'r+')
  try { writeSync(fd, Buffer.from([1]), 0, 1, 16) } finally { closeSync(fd) }
}

/** Calls counted and faults injected so far, and the log's lines ("<pid> <op> <n> <caller object> <path>"). */
export function faultResult (f: Fault): { calls: number, injected: number, log: string[] } {
  const b = readFileSync(f.state)
  return { calls: Number(b.readBigInt64LE(0)), injected: Number(b.readBigInt64LE(8)), log: readFileSync(f.log, 'utf8').split('\n').filter(l => l !== '') }
}
