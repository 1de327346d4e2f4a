// Entry of the query sandbox process (started by QuerySandbox, fork.ts). It runs one statement at a
// time and streams the result back on its descriptor 3, a socket to its parent, in frames (wire.ts)
// read and written with blocking system calls: it has nothing else to do meanwhile, and Node's IPC
// channel cost a quarter of a bare Node start before any of its code ran. Being a process of its own is the point: this SQLite build has
// no progress handler and no sqlite3_interrupt, so the only way to stop a runaway statement (a
// recursive CTE that never ends) is to kill the process that runs it.
import { readSync, writeSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { errorMessage, isPetalError, serializeError, takeCodeCacheWrite } from '../../util/index.js'
import { QueryError } from '../errors.js'
import { Emitter } from './emitter.js'
import { PARENT_DEATH_ARG, type ChildMessage, type ParentMessage, type RunRequest } from './protocol.js'
import { runOnMirror } from './run-mirror.js'
import { runPerBlock } from './run-per-block.js'
import { FrameReader, encodeFrame } from './wire.js'

const CHANNEL = 3

/** Write all of `bytes` to the parent (a blocking socket: each call takes what fits, then waits). */
function send (m: ChildMessage): void {
  const bytes = encodeFrame(m)
  for (let at = 0; at < bytes.length;) at += writeSync(CHANNEL, bytes, at, bytes.length - at)
}

const reader = new FrameReader()
const inbox: ParentMessage[] = []
const buffer = Buffer.allocUnsafe(64 * 1024)

/** The parent's next message, waiting for it; undefined once the parent has closed the socket (or is gone). */
function receive (): ParentMessage | undefined {
  while (inbox.length === 0) {
    let n: number
    try {
      n = readSync(CHANNEL, buffer, 0, buffer.length, null)
    } catch (err) {
      if (typeof err === 'object' && err !== null && 'code' in err && err.code === 'EINTR') continue
      return undefined
    }
    if (n === 0) return undefined
    inbox.push(...reader.push(Buffer.from(buffer.subarray(0, n))) as ParentMessage[])
  }
  return inbox.shift()
}

class ParentGone extends Error {}

async function run (req: RunRequest): Promise<void> {
  // A full window waits here for the parent's ack (the only message it sends during a run).
  const out = new Emitter(send, req.format, req.maxRows, () => {
    for (;;) {
      const m = receive()
      if (m === undefined) throw new ParentGone('the parent closed the channel')
      if (m.type === 'ack') { out.ack(); return }
    }
  })
  try {
    if (req.mode === 'per-block') await runPerBlock(req.dataDir, req.sql, out, { from: req.from, to: req.to })
    else await runOnMirror(req.dataDir, req.sql, out, { decrypt: req.decrypt, export: req.export })
  } catch (err) {
    if (err instanceof ParentGone) throw err
    // Coded errors (a query's, a decryption's) go to the caller as they are.
    const e = isPetalError(err)
      ? err
      : new QueryError('QUERY_SANDBOX_FAILED', `the query sandbox failed: ${errorMessage(err)}`, { hint: 'this is a bug in Petal; please report it with the statement' })
    // What was produced before the failure is still delivered (then the error, and a non-zero exit).
    try { await out.flushPartial() } catch {}
    send({ type: 'error', error: serializeError(e) })
  }
}

// If the parent dies (killed, crashed) while a statement runs, nobody would ever stop this
// process: the main thread may be inside sqlite3_step for good. Where the parent could start it
// under a parent-death signal (fork.ts: `setpriv --pdeathsig KILL`, Linux), the kernel kills it
// then; the signal was set before Node started, so a parent already gone by now is one that died
// before it: leave at once. Elsewhere a watchdog thread notices that the parent is gone and kills
// the process. An idle sandbox simply exits when its socket to the parent closes, so the thread starts
// with the first statement: its start-up (a second V8 instance, ~10-20 ms of CPU) then runs
// beside that statement instead of delaying the ready message, which the first answer waits for.
// The parent is the one that started this process, even if it is gone already. Its stdout and
// stderr are its own streams (it writes nothing): by default Node pipes a worker's output into
// this process's process.stdout and process.stderr, creating both at once, and stderr, a pipe to
// the parent, is a socket: that loaded net and its stream machinery on the first statement's path
// (docs/performance/query.md, "Session 11: `petal query`").
const killedWithParent = process.argv.find(a => a.startsWith(PARENT_DEATH_ARG))?.slice(PARENT_DEATH_ARG.length)
if (killedWithParent !== undefined && String(process.ppid) !== killedWithParent) process.kill(process.pid, 'SIGKILL')
const parent = process.ppid
let watchdog: Worker | undefined
function watchParent (): void {
  if (watchdog !== undefined || killedWithParent !== undefined) return
  watchdog = new Worker(`const parent = ${parent}
setInterval(() => { if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL') }, 250)`, { eval: true, stdout: true, stderr: true })
  watchdog.unref()
}

/**
 * Say ready, then run each statement the parent sends. Acks left over from a run (the parent acks
 * every chunk it took, after the window stopped waiting) are read here and need nothing. Ends
 * when the parent closes the socket: nothing else keeps the process alive (the watchdog is unref'd).
 */
async function serve (): Promise<void> {
  send({ type: 'ready' })
  for (let m = receive(); m !== undefined; m = receive()) {
    if (m.type !== 'run') continue
    watchParent()
    // Started from the build's seed (this installation has no code cache of its own for this
    // script yet: code-cache.ts), the statement's functions were compiled from source: the cache
    // is written once they are, after the answer, outside the statement's time limit. 'caching'
    // goes first, so that the parent lets the write finish before it kills this process.
    const writeCache = takeCodeCacheWrite()
    if (writeCache !== undefined) send({ type: 'caching' })
    await run(m)
    if (writeCache !== undefined) { writeCache(); send({ type: 'cached' }) }
  }
}
// A failed write (the parent went away) or a parent gone mid-run: there is no one left to answer.
serve().catch(() => {})
