import { existsSync, lstatSync, readdirSync, readlinkSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { errorCode } from './narrow.js'

// writeFileAtomic(Async) writes `<file>.n<ns>.<pid>.<hex>.tmp` beside its target; writeWriterRecord
// `<file>.n<ns>.<pid>.tmp` (tempTag: <ns> is the writer's PID namespace, 0 where it cannot read
// it). A crash between the create and the rename leaves one that nothing renames. Names without
// the namespace (`<file>.<pid>.<hex>.tmp`, `<file>.<pid>.tmp`) are older versions'.
// The namespace goes before the pid so that an older version, which reads `<file>.n<ns>` as the
// file and then the pid, judges the new names as it judged its own. The random part is matched at
// its exact length first: eight hex digits that happen to be all decimal would otherwise read as
// the pid, and a live writer's file would look stale.
const TEMPS = [
  /^(.+)\.n([0-9]+)\.([0-9]+)\.[0-9a-f]{8}\.tmp$/,
  /^(.+)()\.([0-9]+)\.[0-9a-f]{8}\.tmp$/,
  /^(.+)\.n([0-9]+)\.([0-9]+)\.tmp$/,
  /^(.+)()\.([0-9]+)\.tmp$/
] as const
const ATOMIC_TEMPS = TEMPS.slice(0, 2)

/**
 * A file of a writer in another PID namespace is removed only once it has not been modified for
 * this long. Its pid means nothing here (a CLI in a second container on the same volume, a
 * sidecar: process.kill(pid, 0) cannot see it, or sees another process), and its files were
 * deleted under it. No live writer keeps one unmodified for a day: an atomic write's temp lives
 * from its create to its rename (milliseconds), a tmp/ file one download, import, seal or mirror
 * copy (seconds to minutes), and a catch-up's files made ahead are taken or removed within it. A
 * day also bounds what a crashed container's files cost (docs/data-directory.md).
 */
export const FOREIGN_TEMP_MAX_AGE_MS = 24 * 3600_000

/**
 * The namespace in the names of a process that cannot read its own (no /proc, or another
 * namespace's /proc: `nsenter --mount` into a container). Its pid names it only in a namespace no
 * reader knows, so its files are judged as another namespace's (by age) by every reader: named
 * `<pid>-…` as before session 45, a node of another namespace judged them by that pid there and
 * removed live ones. No namespace is numbered 0 (nsfs inodes start at 0xF0000000), so session 43's
 * and 44's readers judge these names by age too.
 */
export const UNKNOWN_NAMESPACE = '0'

let ownNamespace: string | undefined
/**
 * This process's PID namespace: the inode of /proc/self/ns/pid, in decimal ('' where it cannot be
 * read, for example without /proc). Read once: a process never changes its own.
 */
export function pidNamespace (): string {
  if (ownNamespace === undefined) {
    try {
      ownNamespace = /^pid:\[([0-9]+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? ''
    } catch {
      ownNamespace = ''
    }
  }
  return ownNamespace
}

let procOwn: boolean | undefined
/**
 * Whether /proc's pids are this process's: false in a PID namespace whose /proc was not mounted
 * for it (`unshare --pid --fork` without --mount-proc), where /proc/PID and /proc/locks name other
 * processes than process.kill(PID) does, and where /proc is a namespace's this process is not in
 * (`nsenter --mount` into a container from outside it): there /proc/self does not exist (ENOENT)
 * while /proc does. True where there is no /proc (its readers then fail), and where reading
 * /proc/self is refused (EACCES, EPERM: an LSM's policy, AppArmor or SELinux): a refusal says what
 * this process may read, not whose pids /proc lists, and a confined process is in the namespace
 * its /proc was mounted for; each reader meets its own refusals as "cannot be read". Taken as not
 * this process's, such a process judged a node of its own namespace by node.lock alone, as one
 * of another (`status`: "from another PID namespace"), and never looked at /proc/locks.
 */
export function procIsOwn (): boolean {
  if (procOwn === undefined) {
    try {
      procOwn = readlinkSync('/proc/self') === String(process.pid)
    } catch (err) {
      procOwn = errorCode(err) !== 'ENOENT' || !existsSync('/proc/stat')
    }
  }
  return procOwn
}

/** The namespace this process names itself by in its temporary names: its own, or UNKNOWN_NAMESPACE. */
export function nameNamespace (): string {
  return pidNamespace() === '' ? UNKNOWN_NAMESPACE : pidNamespace()
}

/** The writer's part of this process's temporary names: `n<ns>.<pid>` (nameNamespace). */
export function tempTag (): string {
  return `n${nameNamespace()}.${process.pid}`
}

/** The temporary sibling through which this process replaces `path` (a new one each call). */
export function atomicTempPath (path: string): string {
  return `${path}.${tempTag()}.${(Math.random() * 0x100000000 >>> 0).toString(16).padStart(8, '0')}.tmp`
}

/**
 * Whether a temporary file of writer `pid` in PID namespace `ns` ('': a name without one) is
 * abandoned. This process's own never are. In this namespace (or a name without one, as before
 * namespaces were in the names): when no process has that pid (a reused pid only delays the
 * removal). In another namespace, an unknown one (UNKNOWN_NAMESPACE), or when this process cannot
 * read its own: only when `path` has not been modified for FOREIGN_TEMP_MAX_AGE_MS (a file already
 * gone is not).
 */
export function tempAbandoned (pid: number, ns: string, path: string): boolean {
  const own = pidNamespace()
  if (ns === '' || (ns === own && own !== '')) return pid !== process.pid && !processAlive(pid)
  try {
    const st = lstatSync(path, { throwIfNoEntry: false })
    return st !== undefined && Date.now() - st.mtimeMs > FOREIGN_TEMP_MAX_AGE_MS
  } catch {
    return false
  }
}

/** Whether a process with this id exists here (EPERM: it does, under another user). */
export function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return errorCode(err) === 'EPERM'
  }
}

/**
 * Delete the temporary files of atomic writes in `dir` that a crash cut short: those tempAbandoned
 * judges abandoned (a live writer may be writing one now), except for the targets in `owned`: files only the caller writes and has not written
 * yet (a node that has just taken node.lock and its node-state.json), whose temps are all stale.
 * Best effort: a file that cannot be removed now is tried again by the next caller. Returns the
 * names removed.
 */
export function removeStaleTemps (dir: string, owned: ReadonlySet<string> = new Set()): string[] {
  return removeTemps(dir, name => matchAny(TEMPS, name), owned)
}

/**
 * Delete, beside an output file the user names (`-o FILE`), the temporaries of writeOutputFile's
 * atomic replace of that same FILE that a killed process left (`FILE.n<ns>.<pid>.<8 hex>.tmp` or
 * `FILE.<pid>.<8 hex>.tmp`, nothing else: a regular file of exactly that name that tempAbandoned
 * judges abandoned). Only FILE's own: the directory is the user's, and another name of that
 * pattern may be another program's. Returns the names removed.
 */
export function removeDeadWritersTemps (dir: string, file: string): string[] {
  return removeTemps(dir, name => {
    const m = matchAny(ATOMIC_TEMPS, name)
    try {
      return m !== null && m[1] === file && lstatSync(`${dir}/${name}`, { throwIfNoEntry: false })?.isFile() === true ? m : null
    } catch { return null }
  })
}

function removeTemps (dir: string, match: (name: string) => RegExpExecArray | null, owned: ReadonlySet<string> = new Set()): string[] {
  let names: string[]
  try { names = readdirSync(dir) } catch { return [] }
  const removed: string[] = []
  for (const name of names) {
    const m = match(name)
    if (m === null) continue
    const path = join(dir, name)
    if (!owned.has(m[1] ?? '') && !tempAbandoned(Number(m[3]), m[2] ?? '', path)) continue
    try {
      rmSync(path, { force: true })
      removed.push(name)
    } catch {}
  }
  return removed
}

function matchAny (patterns: readonly RegExp[], name: string): RegExpExecArray | null {
  for (const p of patterns) {
    const m = p.exec(name)
    if (m !== null) return m
  }
  return null
}
