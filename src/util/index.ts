/**
 * util: leaf helpers shared by every module — hex, typed errors, durable file writes, logging,
 * clock, timestamps, async primitives and a small worker pool.
 *
 * Owns nothing stateful. Must not import any other Petal module or any third-party package.
 * @module
 */
export * from './errors.js'
export * from './narrow.js'
export * from './hex.js'
export * from './fs.js'
export * from './logger.js'
export * from './clock.js'
export * from './time.js'
export * from './async.js'
export * from './abort.js'
export * from './loop.js'
export * from './worker-pool.js'
export * from './failpoint.js'
export * from './child-processes.js'
export * from './progress.js'
export * from './error-status.js'
