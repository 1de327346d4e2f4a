// Before a measured pull of the network bench: the file system's dirty data written, then the
// machine left idle, and no timed pull inside the kernel's window of the bench's own deletions.
//
// ext4 without a journal (this VM's root file system; /proc/fs/jbd2 is empty) skips, when it
// allocates an inode, every inode freed in the last 60 s (360 s while its inode-table block is not
// written yet), looking each one up: a pull creates two files a block, so a pull started within a
// minute of the bench's own deletion of a pulled chain (20,000 files after a catch-up, the previous
// run's at its exit or the 1 MB pull's before the catch-up) pays for each of them at every file it
// creates, which a node catching up does not (docs/performance/catchup.md, "Session 54: the bench's
// own deletions before the catch-up (pipe54)"). Each deletion of the bench is dated in its cache
// directory (so the next run sees the previous one's); settle() waits until the window has passed.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** The kernel's window (60 s once the inode table is written: settle() runs `sync` first), and a second more. */
export const RECENT_DELETION_MS = 61_000

const markIn = (cache: string): string => join(cache, 'deleted-at')

/** rmSync of a directory the bench made, its time written in `cache` for settle(). */
export function removeAndMark (path: string, cache: string, now = Date.now()): void {
  rmSync(path, { recursive: true, force: true })
  mkdirSync(cache, { recursive: true })
  writeFileSync(markIn(cache), String(now))
}

/** When the bench last deleted something (ms since the epoch), 0 if never. */
export function lastDeletion (cache: string): number {
  try { return Number(readFileSync(markIn(cache), 'utf8')) || 0 } catch { return 0 }
}

/** The idle before a timed pull: `settleMs`, or until the window after the last deletion has passed (unless `waitDeletion` is false). */
export function idleMs (o: { settleMs: number, deleted: number, now: number, waitDeletion: boolean }): number {
  const rest = o.waitDeletion && o.deleted > 0 ? o.deleted + RECENT_DELETION_MS - o.now : 0
  return Math.max(o.settleMs, rest)
}

/**
 * `sync`, then idle for PETAL_BENCH_SETTLE_MS (default 5000) and at least until RECENT_DELETION_MS
 * after the bench's last deletion (PETAL_BENCH_DELETION_WAIT=0: not, the settle before session 54).
 * catch41 found ~24 % of the pulling process's CPU in ext4's scan past freed inodes after a previous
 * run's 20,000 files were deleted (docs/performance/catchup.md, "Session 41: catch-up"). Returns how
 * it settled, for the output.
 */
export async function settle (what: string, cache: string, log: (s: string) => void): Promise<string> {
  const t0 = performance.now()
  execFileSync('sync', [], { stdio: 'ignore' })
  const syncMs = performance.now() - t0
  const deleted = lastDeletion(cache)
  const now = Date.now()
  const ms = idleMs({ settleMs: Number(process.env.PETAL_BENCH_SETTLE_MS ?? '5000'), deleted, now, waitDeletion: process.env.PETAL_BENCH_DELETION_WAIT !== '0' })
  await new Promise(resolve => setTimeout(resolve, ms))
  const after = deleted === 0 ? 'no deletion of the bench recorded' : `${((now - deleted + ms) / 1000).toFixed(0)} s after the bench's last deletion`
  const done = `sync (${syncMs.toFixed(0)} ms), then ${(ms / 1000).toFixed(1)} s idle, ${after}`
  log(`before ${what}: ${done}`)
  return done
}
