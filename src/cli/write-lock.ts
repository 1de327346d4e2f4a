import type { Command } from 'commander'
import { describeWriter, type LockOptions } from '../storage/index.js'
import type { CliContext } from './context.js'
import { UsageError } from './output.js'

const seconds = (v: string): number => {
  const n = Number(v)
  if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n) || n > 7 * 86_400) throw new UsageError(`--wait must be a number of seconds (0 to not wait, at most 604800), not ${JSON.stringify(v)}`, 'e.g. --wait 30 (fractions allowed), or --wait 0 to give up at once while another process is writing')
  return n
}

/** `--wait SECONDS` on a command that writes to the data directory. */
export function addWaitOption (cmd: Command): Command {
  return cmd.option('--wait <seconds>', 'if another process is writing to the data directory, wait at most this long for it (default: until it finishes; 0: not at all)', seconds)
}

/**
 * How a command waits for the data directory's write lock: it says which process holds it and
 * what that process is doing (again if the holder changes), and gives up after `--wait` seconds
 * with LOCK_TIMEOUT.
 */
export function lockOptions (ctx: CliContext, wait: number | undefined): LockOptions {
  return {
    // Read at the write's checks; the lock's wait listens on it (and so makes the real signal).
    signal: ctx.probe,
    timeoutMs: wait === undefined ? undefined : Math.round(wait * 1000),
    onWait: holder => {
      ctx.out.note(`waiting for ${describeWriter(holder)} to finish writing to this data directory${wait === undefined ? ' (Ctrl-C to give up)' : ` (at most ${wait} s)`}…`)
    }
  }
}
