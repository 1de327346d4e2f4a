import { errorStatus, EXIT } from '../util/index.js'

export { EXIT }

/** The exit status of a failed command: derived from the error's class and code (util/error-status.ts). */
export function exitCodeOf (err: unknown): number {
  return errorStatus(err).exit
}
