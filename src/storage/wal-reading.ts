import type Database from 'better-sqlite3'
import { readableCommits } from './wal-frames.js'
import { walIndexCopied, walIndexFrames } from './wal-index.js'

/**
 * How a WAL database's log reads against its wal-index, the one reading behind both of Petal's
 * copies of a log: a checkpoint copies only a log that reads whole (wal-checkpoint.ts), and a
 * re-write has SQLite drop the commits that no longer read (wal-commit.ts). Read under SQLite's
 * write lock (the caller's BEGIN IMMEDIATE), so that no commit changes the log or the wal-index
 * meanwhile. docs/data-directory.md, "A log that no longer reads as written".
 *
 * - `unchecked`: no addon to read the wal-index with, or no readable header of it: nothing known.
 * - `whole`: the log reads as written up to the wal-index's mxFrame (`indexed`); or its first
 *   unreadable frame lies within what a checkpoint already copied (from the page cache, before the
 *   loss), so the database holds it whole: dropping from there (a rebuild ending the log before
 *   it) would copy older versions of its pages back over the database, dropping commits it holds
 *   and the acknowledged ones after (review39). Such a log is copied whole, as without the check.
 * - `{ indexed, readable }` (lost): its commits end at frame `readable` when read from the disk, though `indexed` frames
 *   were committed, and no checkpoint has copied that far (a write of the log was lost).
 */
export type LogReading = 'unchecked' | 'whole' | { indexed: number, readable: number }

/** The log of `db` read as recovery reads it (wal-frames.ts) against its wal-index (wal-index.ts); errors are thrown. */
export function readLog (db: Database.Database): LogReading {
  const indexed = walIndexFrames(db)
  if (indexed === undefined) return 'unchecked'
  if (indexed === 0) return 'whole'
  const readable = readableCommits(`${db.name}-wal`, indexed)
  if (readable >= indexed) return 'whole'
  const copied = walIndexCopied(db)
  if (copied === undefined) return 'unchecked'
  return readable < copied ? 'whole' : { indexed, readable }
}
