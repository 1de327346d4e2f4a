/**
 * Exit statuses of `petal` (docs/cli.md). A file of its own, loading nothing: the start-up
 * script that forks `petal query`'s sandbox (src/cli/fast-prestart.ts, compiled from source on
 * every start of `query` and `verify`) needs INTERRUPTED, and error-status.ts brings the error
 * classes' registry (docs/performance/query.md, "Session 41: petal query").
 */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  INVALID_BLOCK: 3,
  DATA_DIR: 4,
  KEYS: 5,
  VERIFY_FAILED: 6,
  NETWORK: 7,
  QUERY: 8,
  INTERRUPTED: 130
} as const
