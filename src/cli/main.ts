// Process entry of the `petal` command: signal handling and the exit status.
import '../polyfills.js'
import { fileURLToPath } from 'node:url'
import { runCli } from './program.js'
import { EXIT } from './exit-codes.js'

const controller = new AbortController()
let interrupts = 0
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    interrupts++
    if (interrupts > 1) process.exit(EXIT.INTERRUPTED)
    if (sig === 'SIGINT') process.stderr.write('\npetal: stopping cleanly (press Ctrl-C again to force)\n')
    controller.abort()
  })
}

// The reader of our output went away (`petal query … | head`): stop at once, as a C tool killed by
// SIGPIPE would (status 141), instead of crashing on EPIPE. A query's sandbox process notices that
// its parent is gone and stops too.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(141)
  throw err
})

const status = await runCli(process.argv.slice(2), {
  stdout: s => { process.stdout.write(s) },
  stderr: s => { process.stderr.write(s) },
  env: process.env,
  stderrIsTTY: process.stderr.isTTY === true,
  packageRoot: fileURLToPath(new URL('../..', import.meta.url))
}, controller.signal)
process.exitCode = status
