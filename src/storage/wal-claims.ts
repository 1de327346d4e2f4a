import { resolve } from 'node:path'

/**
 * The deferred commits of this process (a commit at synchronous = NORMAL whose fsync of the -wal
 * runs after it: chain.db's group placements, pending.db's group commits) not yet settled, by
 * database: from before their COMMIT until their sync has succeeded, or failed and the log been
 * re-written (rewriteLog). While one is unsettled, its writer may yet find a lost frame and must
 * be the one to drop it (a log dropped by another reads whole to its re-write, which would then
 * take the dropped commits for made): no checkpoint of this process drops a lost log meanwhile
 * (commitWal's dropOrphanedLoss, wal-commit.ts). Per thread: these databases are written on the
 * main one.
 */

// By absolute path: two connections may name one file differently.
const unsettled = new Map<string, number>()

/** Note a deferred commit on the database `file`; the returned function settles it (once). */
export function claimLog (file: string): () => void {
  const path = resolve(file)
  unsettled.set(path, (unsettled.get(path) ?? 0) + 1)
  let done = false
  return () => {
    if (done) return
    done = true
    const left = (unsettled.get(path) ?? 1) - 1
    if (left > 0) unsettled.set(path, left)
    else unsettled.delete(path)
  }
}

/** Whether this process has a deferred commit on the database `file` not yet settled. */
export function logClaimed (file: string): boolean {
  return unsettled.has(resolve(file))
}
