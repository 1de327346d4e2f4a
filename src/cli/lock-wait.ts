import type { CliContext } from './context.js'

/**
 * How a command waits for a lock another of its kind holds (tokens.lock, witnesses.lock;
 * NodeLock.holding): it says so once, naming the holders' pids where /proc/locks tells, and
 * Ctrl-C gives up. `other` names what it waits for: "another `petal tokens` command".
 */
export function waitForOther (ctx: CliContext, other: string): { signal: AbortSignal, onWait: (holders: number[] | undefined) => void } {
  return {
    signal: ctx.probe,
    onWait: holders => { ctx.out.note(`waiting for ${other}${holders === undefined || holders.length === 0 ? '' : ` (pid ${holders.join(', ')})`} to finish (Ctrl-C to give up)…`) }
  }
}
