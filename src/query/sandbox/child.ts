// Entry of the query sandbox process (forked by QuerySandbox). It runs one statement at a time and
// streams the result back over IPC. Being a process of its own is the point: this SQLite build has
// no progress handler and no sqlite3_interrupt, so the only way to stop a runaway statement (a
// recursive CTE that never ends) is to kill the process that runs it.
import { Worker } from 'node:worker_threads'
import { errorMessage, isPetalError, serializeError } from '../../util/index.js'
import { QueryError } from '../errors.js'
import { Emitter } from './emitter.js'
import { PARENT_DEATH_ARG, type ChildMessage, type ParentMessage, type RunRequest } from './protocol.js'
import { runOnMirror } from './run-mirror.js'
import { runPerBlock } from './run-per-block.js'

const send = (m: ChildMessage): void => { process.send?.(m) }
let current: Emitter | undefined

async function run (req: RunRequest): Promise<void> {
  const out = new Emitter(send, req.format, req.maxRows)
  current = out
  try {
    if (req.mode === 'per-block') await runPerBlock(req.dataDir, req.sql, out, { from: req.from, to: req.to })
    else await runOnMirror(req.dataDir, req.sql, out, { decrypt: req.decrypt, export: req.export })
  } catch (err) {
    // Coded errors (a query's, a decryption's) go to the caller as they are.
    const e = isPetalError(err)
      ? err
      : new QueryError('QUERY_SANDBOX_FAILED', `the query sandbox failed: ${errorMessage(err)}`, { hint: 'this is a bug in Petal; please report it with the statement' })
    // What was produced before the failure is still delivered (then the error, and a non-zero exit).
    try { await out.flushPartial() } catch {}
    send({ type: 'error', error: serializeError(e) })
  } finally {
    current = undefined
  }
}

// If the parent dies (killed, crashed) while a statement runs, nobody would ever stop this
// process: the main thread may be inside sqlite3_step for good. Where the parent could start it
// under a parent-death signal (fork.ts: `setpriv --pdeathsig KILL`, Linux), the kernel kills it
// then; the signal was set before Node started, so a parent already gone by now is one that died
// before it: leave at once. Elsewhere a watchdog thread notices that the parent is gone and kills
// the process. An idle sandbox simply exits when the IPC channel closes, so the thread starts
// with the first statement: its start-up (a second V8 instance, ~10-20 ms of CPU) then runs
// beside that statement instead of delaying the ready message, which the first answer waits for.
// The parent is the one that started this process, even if it is gone already. Its stdout and
// stderr are its own streams (it writes nothing): by default Node pipes a worker's output into
// this process's process.stdout and process.stderr, creating both at once, and stderr, a pipe to
// the parent, is a socket: that loaded net and its stream machinery on the first statement's path
// (docs/performance.md, "Session 11: `petal query`").
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

process.on('message', (m: ParentMessage) => {
  if (m.type === 'ack') current?.ack()
  else if (m.type === 'run') { watchParent(); void run(m) }
})
send({ type: 'ready' })
