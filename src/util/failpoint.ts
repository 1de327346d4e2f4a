/**
 * Crash-test failpoints: when `PETAL_FAILPOINT` names this point, the process kills itself with
 * SIGKILL right here, exactly as a power cut would stop it. Used by the crash-safety tests to hit
 * windows a few microseconds wide (between a rename and a commit) that random kills rarely hit.
 * A no-op unless the variable is set.
 */
export function failpoint (name: string): void {
  const want = process.env.PETAL_FAILPOINT
  if (want !== undefined && want === name) process.kill(process.pid, 'SIGKILL')
}
