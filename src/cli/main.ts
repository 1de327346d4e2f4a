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

const status = await runCli(process.argv.slice(2), {
  stdout: s => { process.stdout.write(s) },
  stderr: s => { process.stderr.write(s) },
  env: process.env,
  stderrIsTTY: process.stderr.isTTY === true,
  packageRoot: fileURLToPath(new URL('../..', import.meta.url))
}, controller.signal)
process.exitCode = status
