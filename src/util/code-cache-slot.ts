/**
 * The code cache a fast-bundle child process leaves for its own script to write (src/cli/code-cache.ts,
 * `first-message` outside a worker thread). The query sandbox is killed by its parent as soon as
 * its answer is in, so a write scheduled when its script had loaded never ran (it blocks reading
 * its socket), and every start compiled the statement's functions from the build's seed again
 * (~17 M instructions on the first answer's path; docs/performance/query.md, "Session 40: petal query").
 * The script takes the write and calls it after its first statement, while its parent waits.
 *
 * The writer (in the stub that starts the script) and the script are separate bundles, each with
 * its own copy of this module: the write is handed over through a global slot under a registered
 * symbol. This file loads no module (the start-up router carries it).
 */
const SLOT = Symbol.for('petal.code-cache.write')

/** Leave `write` for this process's script to call when it has done the work its cache should hold. */
export function offerCodeCacheWrite (write: () => void): void {
  Reflect.set(globalThis, SLOT, write)
}

/** The code cache write left for this process's script, if any; taken at most once. */
export function takeCodeCacheWrite (): (() => void) | undefined {
  const write: unknown = Reflect.get(globalThis, SLOT)
  Reflect.deleteProperty(globalThis, SLOT)
  return typeof write === 'function' ? () => { Reflect.apply(write, undefined, []) } : undefined
}
