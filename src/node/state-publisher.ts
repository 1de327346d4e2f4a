import { errorMessage, runLoop, type Logger } from '../util/index.js'
import { writeNodeState, type NodeState } from './state-file.js'

/**
 * node-state.json's writer for a running node: writes one at a time (the loop's, the start's and
 * a role change's go through one queue, so an older state never lands after a newer one), and only
 * when what the file says has changed (its time aside).
 */
export class StatePublisher {
  private last = '' // what node-state.json last said, its time aside
  private writes: Promise<void> = Promise.resolve()
  /** Log a failed write; the loop writes again at its next pass. */
  readonly failed = (err: unknown): void => { this.logger.warn('writing node-state.json failed; retrying', { error: errorMessage(err) }) }

  constructor (private readonly root: string, private readonly state: () => NodeState, private readonly logger: Logger) {}

  /** Queue a write of the node's state now; rejects if it fails (the loop retries a failed one). */
  write (): Promise<void> {
    const write = this.writes.then(async () => { await this.writeNow() })
    this.writes = write.catch(() => {})
    return write
  }

  /** Rewrite the file every `everyMs()` until `signal` aborts. */
  async loop (signal: AbortSignal, everyMs: () => number): Promise<void> {
    await runLoop('writing node-state.json', { signal, logger: this.logger, everyMs }, async () => { await this.write() })
  }

  /** Resolves when every queued write has ended (stop waits for it before removing the file). */
  async settled (): Promise<void> { await this.writes }

  private async writeNow (): Promise<void> {
    const s = this.state()
    const key = JSON.stringify({ ...s, updated_at: '' })
    if (key === this.last) return
    await writeNodeState(this.root, s)
    this.last = key
  }
}
