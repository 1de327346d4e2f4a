import { compileShim } from './c-shim.js'

// proc-self-denied.c compiled once per process (c-shim.ts), and the environment that preloads it
// into a child.

/** Path of the compiled library, or undefined with no C compiler. */
export function procSelfDeniedShim (): string | undefined {
  return compileShim('proc-self-denied')
}

/** A child's environment in which reading /proc/self's links fails with `errno`. */
export function procSelfDeniedEnv (errno: 'EACCES' | 'EPERM'): Record<string, string> {
  const shim = procSelfDeniedShim()
  if (shim === undefined) throw new Error('no C compiler (cc) for the /proc/self shim')
  return { LD_PRELOAD: shim, PETAL_DENY_ERRNO: errno }
}
