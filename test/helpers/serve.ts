import { join } from 'node:path'
import { expect } from 'vitest'
import { waitFor } from './wait.js'

/** `petal serve` of `dir` in this process on a free port while `fn` runs with its URL; then stopped. */
export async function whileServing (dir: string, fn: (url: string) => Promise<void>): Promise<void> {
  const { runCli } = await import('../../src/cli/program.js')
  const stop = new AbortController()
  let stdout = ''
  let stderr = ''
  let code: number | undefined
  const ended = runCli(['--dir', dir, 'serve', '--http', '127.0.0.1:0'], {
    stdout: s => { stdout += s },
    stderr: s => { stderr += s },
    env: { PETAL_DIR: undefined, PETAL_PASSPHRASE: undefined, PETAL_LOG_LEVEL: 'error' },
    stderrIsTTY: false,
    packageRoot: join(import.meta.dirname, '..', '..')
  }, stop.signal)
  void ended.then(c => { code = c })
  try {
    await waitFor(() => code !== undefined || stderr.includes('Press Ctrl-C to stop.'), { timeout: 60_000, what: 'serve to start' })
    const url = /^(http:\/\/\S+)$/m.exec(stdout)?.[1]
    expect(url, stdout + stderr).toBeDefined()
    await fn(url as string)
  } finally {
    stop.abort()
    await ended
  }
}
