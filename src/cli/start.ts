// The `petal` process around runCli: signal handling and the exit status. Started by main.ts (the
// ES module bundle) or by the CommonJS fast bundle (docs/performance/startup.md, "Start-up").
import { fstatSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { childExited, killChildProcesses, killChildProcessesSync, LazyAbort, trackChildProcess } from '../util/index.js'
import { peekPrestartedSandbox, takePrestartedSandbox } from '../query/sandbox/prestart.js'
import { runCli } from './program.js'
import { EXIT, exitCodeOf } from './exit-codes.js'
import { OutputError } from './errors.js'
import { Stdout } from './stdout.js'

/**
 * Run `petal` with this process's arguments; sets process.exitCode. `moduleUrl`: the URL of the
 * running script, two levels below the package root (dist/bundle/main.js, dist/fast/petal.js),
 * asked only by a command that needs the package root (`init`, `run --init`): making and parsing
 * URLs compiled a dozen of node:url's functions on every start (docs/performance/startup.md, "Session 23:
 * start-up").
 */
export async function start (moduleUrl: () => string): Promise<void> {
  // The command's abort signal, made at first use: `status`, `blocks`, `mykeys` never ask for it,
  // and an AbortController loads Node's internal/abort_controller (~0.9 M instructions of a start;
  // docs/performance/startup.md, "Session 24: start-up"); a local write only reads it through the probe
  // (util/lazy-abort.ts, "Session 43: the 100-row import"). An abort makes it, aborted.
  const control = new LazyAbort()
  let interrupts = 0
  let ending = false
  // Set when the command has returned: what is left is writing out what it said. A stop asked then
  // ends at once, as a second Ctrl-C does: a reader that stopped reading would otherwise hold the
  // process for ever after one SIGTERM (`timeout`, a service manager) or one Ctrl-C.
  let returned = false
  // Whether process.stderr exists (a command wrote to it, or stderrIsTTY made it for a terminal):
  // then its handle is one of ours, and what it holds must be written before the early exit.
  // Made only when needed: for a pipe, making it loads net (docs/performance/import.md, "Session 11:
  // the 100-row import and start-up").
  let stderrMade = false
  function makeStderr (): NodeJS.WriteStream {
    if (!stderrMade) {
      stderrMade = true
      // Our messages cannot be delivered: whoever read them went away (EPIPE: `petal … 2>&1 |
      // head`), or where they go is full or failing (ENOSPC: `2>/dev/full`, EIO). There is no one
      // left to tell, and the command's status still says how it ended. Unhandled (or thrown, as
      // all but EPIPE were), the error was an uncaught exception: status 1 instead of the
      // command's, with a stack trace nobody could read.
      process.stderr.on('error', () => {})
    }
    return process.stderr
  }

  /**
   * Leave now, but never before our child processes (a query's sandbox) have exited and been
   * reaped: SIGKILL them, wait for each (milliseconds), then exit with `status`.
   */
  function endNow (status: number): void {
    if (ending) return
    ending = true
    void killChildProcesses().finally(() => { process.exit(status) })
  }

  // A query sandbox the router prestarted (fast-start.ts) is one of our children: an early exit
  // stops and reaps it like any other. The router's interim signal handlers give way to these.
  const prestarted = peekPrestartedSandbox()
  if (prestarted !== undefined) trackChildProcess(prestarted.child)
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      interrupts++
      if (interrupts > 1 || returned) { endNow(EXIT.INTERRUPTED); return }
      if (sig === 'SIGINT') makeStderr().write('\npetal: stopping cleanly (press Ctrl-C again to force)\n')
      control.abort()
    })
  }

  // The reader of our output went away (`petal query … | head`): stop at once, as a C tool killed by
  // SIGPIPE would (status 141), instead of crashing on EPIPE; what the command would still say about
  // it (an interrupted statement) is of no use to anyone. Any other failed write (a full disk,
  // /dev/full) stops it too, with a coded error and its status: thrown on a later tick, as it was,
  // it came after the early exit below, which then ended with the command's status, silently.
  const stdout = new Stdout(err => {
    control.abort()
    if (err.code === 'EPIPE') { endNow(141); return }
    const failure = OutputError.of(err)
    if (!ending) makeStderr().write(`petal: error: ${failure.message} [${failure.code}]\n  hint: ${failure.hint ?? ''}\n`)
    endNow(exitCodeOf(failure))
  })

  // A crash (an uncaught exception) must not leave a child running either.
  process.on('exit', () => { killChildProcessesSync() })

  const status = await runCli(process.argv.slice(2), {
    stdout: s => { if (!ending) stdout.write(s) },
    stdoutBacklog: () => ending ? undefined : stdout.backlog(),
    stderr: s => { if (!ending) makeStderr().write(s) },
    env: process.env,
    stderrIsTTY: stderrIsTTY(makeStderr),
    exitsAfter: true,
    get packageRoot () { return fileURLToPath(new URL('../..', moduleUrl())) }
  }, control)
  returned = true
  // A prestarted sandbox no command took (help, a usage error): stop it before leaving.
  const unused = takePrestartedSandbox()
  if (unused !== undefined) {
    unused.child.kill('SIGKILL')
    await childExited(unused.child)
  }
  process.exitCode = status
  // Interrupted: everything the command opened is closed by now; do not let a thread stuck in a
  // system call (a worker reading a file) keep the process alive. Exit once stdout is flushed, or
  // after FLUSH_WAIT_MS if its reader takes nothing more (it stopped reading: the stop asked for
  // must not wait on it).
  if (status === EXIT.INTERRUPTED) {
    stdout.flush(() => { endNow(status) })
    setTimeout(() => { endNow(status) }, FLUSH_WAIT_MS).unref()
    return
  }
  // A stop asked while the command ran that did not end it (it had nothing left to stop: it was
  // closing what it opened): what it wrote gets FLUSH_WAIT_MS too, and then the stop ends it, as
  // one asked after the command returned does; a reader that stopped reading held it until a
  // second signal. Nothing is cut where nothing is left to write (the usual ending below).
  if (interrupts > 0) {
    setTimeout(() => { if (!ending && unwritten(stdout, stderrMade)) endNow(EXIT.INTERRUPTED) }, FLUSH_WAIT_MS).unref()
  }
  // Done, everything written, nothing else that would keep Node running: leave now. Ending the
  // usual way, Node first runs the tasks V8 has scheduled (a scavenge of the young generation,
  // due once a command has allocated ~1 MB) and then frees the heap, work a process that is
  // about to vanish has no use for (docs/performance/startup.md, "Session 21: start-up"). 'exit'
  // listeners still run (the code cache's write, the child processes' reaping).
  if (ending) return
  if (finished(stdout, stderrMade)) { process.exit(); return }
  // Something is left to run (a stream's last write or its error, a timer; after a garbage
  // collection, the N-API finalizers of the OpenSSL addon's key objects, queued as an Immediate):
  // let it, then leave when the event loop is empty, as the usual ending would, but without Node's
  // teardown, where better-sqlite3 closes every connection still open and so checkpoints and
  // deletes the -wal files a command leaves (docs/data-directory.md, "WAL files left in place";
  // docs/performance/import.md, "Session 27: the 100-row import").
  process.once('beforeExit', () => { if (!ending) process.exit() })
}

/** How long an interrupted command's remaining output may take to be written before it exits. */
const FLUSH_WAIT_MS = 2_000

/**
 * Whether nothing remains for the event loop: stdout (and stderr, if made) has handed all it was
 * given to the system without an error, and no handle or request is active but the streams of
 * descriptors 1 and 2 (a terminal's or a pipe's handle stays listed while idle). Anything else (a
 * timer, a socket, a child process, a file operation) means the process ends the usual way.
 * A write of a stream that failed (EPIPE: the reader went away) reports its error on a later
 * tick, where the handler above ends with 141: leaving now would end with the command's status
 * instead. (stdout written directly has no stream, no handle and nothing held: a failed write
 * there has already called endNow.)
 */
function finished (stdout: Stdout, stderrMade: boolean): boolean {
  const out = stdout.nodeStream()
  const streams: Array<[number, NodeJS.WriteStream]> = [...out === undefined ? [] : [[1, out] as [number, NodeJS.WriteStream]], ...stderrMade ? [[2, process.stderr] as [number, NodeJS.WriteStream]] : []]
  const left = process.getActiveResourcesInfo()
  for (const [fd, stream] of streams) {
    if (stream.writableLength !== 0 || stream.errored !== null) return false
    const own = handleType(fd, stream)
    const i = own === undefined ? -1 : left.indexOf(own)
    if (i >= 0) left.splice(i, 1)
  }
  return left.length === 0
}

/** Whether stdout's stream (or stderr's, if made) still holds output it could not hand to the system. */
function unwritten (stdout: Stdout, stderrMade: boolean): boolean {
  return (stdout.nodeStream()?.writableLength ?? 0) > 0 || (stderrMade && process.stderr.writableLength > 0)
}

/**
 * The kind of handle Node made for stdio descriptor `fd` (its name in getActiveResourcesInfo):
 * a terminal's or a pipe's or local socket's; none for a file or another device (/dev/null),
 * which Node writes synchronously.
 */
function handleType (fd: number, stream: NodeJS.WriteStream): 'TTYWrap' | 'PipeWrap' | undefined {
  if (stream.isTTY === true) return 'TTYWrap'
  try {
    const st = fstatSync(fd)
    return st.isFIFO() || st.isSocket() ? 'PipeWrap' : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether stderr is a terminal, without creating process.stderr where it cannot be one. A terminal
 * is a character device; for a pipe or a file (a script capturing what petal says, the benches)
 * creating the stream only to ask would load net and the pipe's stream machinery (~150 fresh pages
 * and ~9 M instructions per start; docs/performance/import.md, "Session 11: the 100-row import and
 * start-up"), and most runs never write to it.
 */
function stderrIsTTY (make: () => NodeJS.WriteStream): boolean {
  let device: boolean
  try {
    device = fstatSync(2).isCharacterDevice()
  } catch {
    // No descriptor 2. Node reopens a closed 0–2 on /dev/null at start, so this is not expected;
    // if it happens, let Node's stream decide, as before.
    device = true
  }
  return device && make().isTTY === true
}
