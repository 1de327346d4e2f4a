import { sleep } from './async.js'
import { errorCode, errorMessage } from './narrow.js'
import type { Logger } from './logger.js'

export interface LoopOptions {
  signal: AbortSignal
  logger: Logger
  /** Pause between two passes that went well (default 0: the body paces itself). */
  everyMs?: number | (() => number)
  /** After a failed pass, wait `minMs`, doubling per consecutive failure up to `maxMs`. */
  backoff?: { minMs: number, maxMs: number }
}

export const DEFAULT_LOOP_BACKOFF = { minMs: 1_000, maxMs: 60_000 } as const

/**
 * Run a background task of a long-lived process until `signal` aborts: call `body` again and again.
 * A pass that throws is logged and the next one waits a growing backoff, so a loop never ends on
 * its first error while the process looks healthy, and a failure that persists is neither lost
 * nor logged in a tight loop. Never rejects: await it when stopping.
 */
export async function runLoop (what: string, o: LoopOptions, body: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const backoff = o.backoff ?? DEFAULT_LOOP_BACKOFF
  let failures = 0
  while (!o.signal.aborted) {
    let wait: number
    try {
      await body(o.signal)
      if (failures > 0) o.logger.info(`${what} recovered`, { failures })
      failures = 0
      wait = typeof o.everyMs === 'function' ? o.everyMs() : o.everyMs ?? 0
    } catch (err) {
      if (o.signal.aborted) return
      failures++
      wait = Math.min(backoff.minMs * 2 ** (failures - 1), backoff.maxMs)
      o.logger.warn(`${what} failed; retrying`, { error: errorMessage(err), code: errorCode(err), failures, retryInMs: wait })
    }
    try {
      await sleep(wait, o.signal)
    } catch {
      return
    }
  }
}

/** One step of a shutdown: what it does (for the log) and the work. */
export type StopStep = readonly [what: string, step: () => unknown]

/**
 * Run every step of a shutdown, in order, even when some fail: a node whose network will not
 * stop must still release its lock and close its index. Each failure is logged; the first one
 * is thrown once every step has run.
 */
export async function runStopSteps (steps: readonly StopStep[], logger: Logger): Promise<void> {
  const failures: unknown[] = []
  for (const [what, step] of steps) {
    // process.hrtime, not the global `performance`: that loads perf_hooks (eleven modules) at its
    // first use, and every CLI command's close runs these steps (cli/context.ts).
    const started = process.hrtime.bigint()
    try {
      await step()
      // What a slow stop waits on (docs/cli.md, run): --log-level debug times each step.
      logger.debug(`stopped: ${what}`, { ms: Number((process.hrtime.bigint() - started) / 100_000n) / 10 })
    } catch (err) {
      failures.push(err)
      logger.warn(`stopping: ${what} failed`, { error: errorMessage(err) })
    }
  }
  if (failures.length > 0) throw failures[0]
}
