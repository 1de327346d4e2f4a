import { existsSync, renameSync, writeFileSync } from 'node:fs'
import { threadId } from 'node:worker_threads'
import { sleep } from './async.js'

/**
 * The failpoint this process was started with. Read once: the tests set it in a child's
 * environment, and a read of process.env on every call cost an ingest append two lookups in the
 * C++ environment per request (docs/performance/ingest.md, "Session 8: ingest").
 */
const [FAILPOINT, NTH] = (process.env.PETAL_FAILPOINT ?? '').split('#')
const FAIL_AT = Number(NTH ?? 1)
let passes = 0

/**
 * Crash-test failpoints: when `PETAL_FAILPOINT` names this point, the process kills itself with
 * SIGKILL right here, exactly as a power cut would stop it. Used by the crash-safety tests to hit
 * windows a few microseconds wide (between a rename and a commit) that random kills rarely hit.
 * `name#n`: at the point's n-th pass (the second group of a catch-up). A no-op unless the
 * variable was set when the process started.
 */
export function failpoint (name: string): void {
  if (FAILPOINT === name && ++passes === FAIL_AT) process.kill(process.pid, 'SIGKILL')
}

/**
 * pausepoint for code that blocks its thread (a worker reading a file): waits synchronously, as a
 * read that never returns would, so tests can check that the rest of the process stays responsive.
 */
export function pausepointSync (name: string): void {
  const file = process.env.PETAL_PAUSE_FILE
  if (file === undefined || !pausesAt(name)) return
  announcePause(file)
  const cell = new Int32Array(new SharedArrayBuffer(4))
  while (existsSync(file)) Atomics.wait(cell, 0, 0, 20)
}

/**
 * Test hook: whether `PETAL_PAUSE` names this point, for code that holds at it until an event of
 * its own process (the load threads up) rather than a file: e.g. `load:warm`, a cold load pool's
 * loads held until a thread is up (chain/load-pool.ts). Reads the environment: for rare paths only.
 */
export function holdsAt (name: string): boolean { return pausesAt(name) }

/** Whether `PETAL_PAUSE` (one point, or several separated by commas) names this one. */
function pausesAt (name: string, at?: number): boolean {
  const want = process.env.PETAL_PAUSE
  if (want === undefined) return false
  return want.split(',').some(w => w === name || (at !== undefined && w === `${name}@${at}`))
}

/**
 * Test hook beside the failpoints: when `PETAL_PAUSE` names this point, create the file
 * `PETAL_PAUSE_FILE` and wait (without blocking the event loop) until someone removes it. Lets a
 * test hold a real process at a known instant — a writer holding the lock mid-import — and
 * observe other processes meanwhile. `at`: where a point that is passed many times is (a block
 * height); `PETAL_PAUSE=name@at` holds it there only. `PETAL_PAUSE=a,b` holds at each of the two
 * points in turn (the same file each time). A no-op unless the variable is set.
 */
export async function pausepoint (name: string, signal?: AbortSignal, at?: number): Promise<void> {
  const file = process.env.PETAL_PAUSE_FILE
  if (file === undefined || !pausesAt(name, at)) return
  announcePause(file)
  while (existsSync(file)) await sleep(20, signal)
}

/**
 * Create the pause file with this process's pid in it, whole: a bare writeFileSync creates it
 * empty first, and a test that saw it in between read '' for the pid (lock-holder.test.ts failed
 * so once in session 49's final CI).
 */
function announcePause (file: string): void {
  // The threadId too: verify's worker threads share the pid and pause at once, and one thread's
  // rename took the temporary file from under another's (ENOENT in session 49's official CI).
  const tmp = `${file}.${process.pid}.${threadId}.tmp`
  writeFileSync(tmp, `${process.pid}\n`)
  renameSync(tmp, file)
}
