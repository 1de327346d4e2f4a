import { setFlagsFromString } from 'node:v8'

/** Old-generation growth after each full collection while held: limit = live × (1 + PERCENT/100). */
export const HEAP_GROWING_PERCENT = 300

/**
 * V8's `--heap-growing-percent`, raised while anyone in the process holds it (a pull's sync, a
 * node's uploads: node/pull-heap.ts, network/upload-heap.ts) and given back to V8 (0, its own
 * choice) when the last holder lets go, so one's end never takes it from another that still runs.
 * A process started with its own flag keeps it (NODE_OPTIONS cannot carry this V8 flag: only the
 * command line can). `setFlags` and `execArgv` are for tests.
 */
export class HeapGrowth {
  private holds = 0
  private readonly own: boolean

  constructor (private readonly setFlags: (flags: string) => void = setFlagsFromString, execArgv: readonly string[] = process.execArgv) {
    this.own = execArgv.some(a => /heap[-_]growing[-_]percent/.test(a))
  }

  /** Hold the raised factor; the function returned lets it go (once: later calls do nothing). */
  hold (): () => void {
    if (this.holds++ === 0 && !this.own) this.setFlags(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
    let held = true
    return () => {
      if (!held) return
      held = false
      if (--this.holds === 0 && !this.own) this.setFlags('--heap-growing-percent=0')
    }
  }
}
