import type { Logger } from '../util/index.js'
import type { IngestEvents } from './types.js'

/** The ingest service's listeners by event; a listener that throws is logged, never the emitter's failure. */
export class IngestListeners {
  private readonly sets: { [E in keyof IngestEvents]: Set<(e: IngestEvents[E]) => void> } = { sealed: new Set(), requeued: new Set(), appended: new Set() }

  constructor (private readonly logger: Logger) {}

  on<E extends keyof IngestEvents> (event: E, fn: (e: IngestEvents[E]) => void): () => void {
    const set = this.sets[event] as Set<(e: IngestEvents[E]) => void>
    set.add(fn)
    return () => { set.delete(fn) }
  }

  /** Whether anyone listens (an append's event object is made only then). */
  has (event: keyof IngestEvents): boolean {
    return this.sets[event].size > 0
  }

  emit<E extends keyof IngestEvents> (event: E, e: IngestEvents[E]): void {
    for (const fn of this.sets[event] as Set<(e: IngestEvents[E]) => void>) {
      try {
        fn(e)
      } catch (err) {
        this.logger.warn('an ingest event listener failed', { event, error: (err as Error).message })
      }
    }
  }
}
