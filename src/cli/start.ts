// The `petal` process around runCli: signal handling and the exit status. Started by main.ts (the
// ES module bundle) or by the CommonJS fast bundle (docs/performance.md, "Start-up").
import { fstatSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { childExited, killChildProcesses, killChildProcessesSync, trackChildProcess } from '../util/index.js'
import { peekPrestartedSandbox, takePrestartedSandbox } from '../query/sandbox/prestart.js'
import { runCli } from './program.js'
import { EXIT } from './exit-codes.js'

/**
 * Run `petal` with this process's arguments; sets process.exitCode. `moduleUrl`: the URL of the
 * running script, two levels below the package root (dist/bundle/main.js, dist/fast/petal.js).
 */
export async function start (moduleUrl: string): Promise<void> {
  const controller = new AbortController()
  let interrupts = 0
  let ending = false

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
      if (interrupts > 1) { endNow(EXIT.INTERRUPTED); return }
      if (sig === 'SIGINT') process.stderr.write('\npetal: stopping cleanly (press Ctrl-C again to force)\n')
      controller.abort()
    })
  }

  // The reader of our output went away (`petal query … | head`): stop at once, as a C tool killed by
  // SIGPIPE would (status 141), instead of crashing on EPIPE; what the command would still say about
  // it (an interrupted statement) is of no use to anyone.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    controller.abort()
    endNow(141)
  })

  // A crash (an uncaught exception) must not leave a child running either.
  process.on('exit', () => { killChildProcessesSync() })

  const status = await runCli(process.argv.slice(2), {
    stdout: s => { if (!ending) process.stdout.write(s) },
    stderr: s => { if (!ending) process.stderr.write(s) },
    env: process.env,
    stderrIsTTY: stderrIsTTY(),
    packageRoot: fileURLToPath(new URL('../..', moduleUrl))
  }, controller.signal)
  // A prestarted sandbox no command took (help, a usage error): stop it before leaving.
  const unused = takePrestartedSandbox()
  if (unused !== undefined) {
    unused.child.kill('SIGKILL')
    await childExited(unused.child)
  }
  process.exitCode = status
  // Interrupted: everything the command opened is closed by now; do not let a thread stuck in a
  // system call (a worker reading a file) keep the process alive. Exit once stdout is flushed.
  if (status === EXIT.INTERRUPTED) process.stdout.write('', () => { endNow(status) })
}

/**
 * Whether stderr is a terminal, without creating process.stderr where it cannot be one. A terminal
 * is a character device; for a pipe or a file (a script capturing what petal says, the benches)
 * creating the stream only to ask would load net and the pipe's stream machinery (~150 fresh pages
 * and ~9 M instructions per start; docs/performance.md, session 11), and most runs never write to it.
 */
function stderrIsTTY (): boolean {
  let device: boolean
  try {
    device = fstatSync(2).isCharacterDevice()
  } catch {
    // No descriptor 2. Node reopens a closed 0–2 on /dev/null at start, so this is not expected;
    // if it happens, let Node's stream decide, as before.
    device = true
  }
  return device && process.stderr.isTTY === true
}
