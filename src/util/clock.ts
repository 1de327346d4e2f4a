/** Time source, injected so tests can pin it. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now: () => number
}

export const systemClock: Clock = { now: () => Date.now() }
