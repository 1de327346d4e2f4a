import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { processStartTime } from './lock-holders.js'
import { pidNamespace, procIsOwn, UNKNOWN_NAMESPACE } from './stale-temps.js'

/**
 * Whether a pid recorded with PID namespace `ns` (node-state.json's and writer.json's `pid_ns`)
 * names a process of this one's: only then do process.kill and /proc mean that process here. A
 * record without a namespace (an older Petal's, before session 43), or a process that cannot read
 * its own for want of a /proc, keeps the rule from before namespaces were recorded: the pid is
 * taken as this namespace's. One whose /proc is another namespace's, where it is not (procIsOwn:
 * `nsenter --mount` into a container), cannot read its own either, but the recorded writer could
 * read its namespace in a /proc that listed it: that writer's pid is not taken as one of this
 * namespace. A writer that could not read its own (UNKNOWN_NAMESPACE) is of no namespace a reader
 * can name: its pid is taken as this namespace's only by a reader on a system without /proc
 * (procMissing), by the same rule as any record read there (before session 50 by none: such a
 * writer was never judged alive or dead, and named "in a PID namespace it could not read" where
 * nothing else is known); a reader with a /proc recognises it only as a lock's holder
 * (findInNamespace's candidates).
 */
export function sameNamespace (ns: string | undefined): boolean {
  if (ns === UNKNOWN_NAMESPACE) return procMissing()
  const own = pidNamespace()
  if (ns === undefined || ns === '' || ns === own) return true
  return own === '' && procIsOwn()
}

let boot: string | undefined
/**
 * This kernel's boot id (/proc/sys/kernel/random/boot_id: random at each boot, so another host's
 * differs), or '' where it cannot be read. A PID namespace's number is not unique across hosts:
 * every host's initial namespace has the same one (4026531836), so a file on a disk shared by two
 * hosts (NFS) named by pid and namespace alone may name a process of this host.
 */
export function bootId (): string {
  if (boot === undefined) {
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    } catch {
      boot = ''
    }
  }
  return boot
}

/** Whether a record's boot id (absent in an older one) says it was written on another host or boot: then its pid is judged nowhere here. */
export function otherBoot (recorded: string | undefined): boolean {
  return recorded !== undefined && recorded !== '' && bootId() !== '' && recorded !== bootId()
}

let noProc: boolean | undefined
/** Whether there is no /proc here at all (no /proc/stat): a container without one, or a chroot. */
export function procMissing (): boolean {
  noProc ??= !existsSync('/proc/stat')
  return noProc
}

/** Whether `ns` is UNKNOWN_NAMESPACE: the recorded writer could not read its own PID namespace. */
export function unknownNamespace (ns: string | undefined): boolean { return ns === UNKNOWN_NAMESPACE }

/**
 * A recorded writer's pid as a message names it: `pid 4242` in this namespace (or a record without
 * one), else `pid 7 in another PID namespace`, with `, 31337 here` when a pid here names it, or
 * `pid 7 in a PID namespace it could not read` (UNKNOWN_NAMESPACE: no pid here is known for it).
 */
export function namedPid (pid: number, ns: string | undefined, here?: number): string {
  if (sameNamespace(ns)) return `pid ${pid}`
  if (unknownNamespace(ns)) return `pid ${pid} in a PID namespace it could not read${here === undefined ? '' : `, ${here} here`}`
  return `pid ${pid} in another PID namespace${here === undefined ? '' : `, ${here} here`}`
}

/** pidDetails' shape: the record's fields, its pid as it can be used here (below). */
export type PidDetails<T> = Omit<T, 'pid' | 'here'> & { pid?: number, other_pid_ns?: true, ns_pid?: number }

/**
 * A recorded process (node-state.json's node, writer.json's writer) as `--json` and errors'
 * details give it (docs/data-directory.md): `pid` is a pid of this namespace or absent, so that a
 * script that kills it never reaches another process. One of another PID namespace has
 * `other_pid_ns`, `ns_pid` (its pid there) and `pid_ns`, and `pid` only where a pid here (`here`)
 * names it. The one builder of that shape: `petal status --json` (cli) and the storage errors'
 * `holder` and `rebuilder` both use it.
 */
export function pidDetails<T extends { pid: number, pid_ns?: string, here?: number }> (r: T): PidDetails<T> {
  const { pid, here, ...rest } = r
  if (sameNamespace(r.pid_ns)) return { pid, ...rest }
  return { ...(here === undefined ? {} : { pid: here }), other_pid_ns: true, ns_pid: pid, ...rest }
}

/** The namespace of `kind` (pid, time) of process `pid` as /proc shows it ('' where it cannot be read: gone, or another user's). */
function namespaceOf (pid: number | 'self', kind: 'pid' | 'time'): string {
  try {
    return new RegExp(`^${kind}:\\[([0-9]+)\\]$`).exec(readlinkSync(`/proc/${pid}/ns/${kind}`))?.[1] ?? ''
  } catch {
    return ''
  }
}

/** Process `pid`'s pid in its own namespace: the last of /proc/PID/status's NSpid (undefined where it cannot be read). */
function innermostPid (pid: number): number | undefined {
  try {
    const line = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    const last = line?.trim().split(/\s+/).at(-1)
    return last === undefined ? undefined : Number(last)
  } catch {
    return undefined
  }
}

export interface NamespacePeek {
  /** The process, as this process (and /proc) names it: one is visible from here only when its namespace lies within this one's. */
  here?: number
  /** Some process of that namespace is visible from here (the ones looked at): its processes, the one sought among them, would be listed. */
  visible: boolean
}

/**
 * Look for the process that is `pid` in PID namespace `ns` among `candidates` (pids as /proc names
 * them: /proc/locks' holders), or among every process of /proc. `start`, its start time as it
 * read it (writer.json), must match too where both count time alike (the same time namespace): a
 * pid reused in that namespace is not the writer. Nothing is found where /proc is not this
 * process's (procIsOwn) or cannot be read. Of an unknown namespace ("0": no /proc/PID/ns/pid reads
 * so) only among `candidates`, the holders of the lock the writer holds while its record stands,
 * by its pid there (their innermost pid) and start: `visible` where one is listed.
 */
export function findInNamespace (ns: string, pid: number, o: { candidates?: readonly number[], start?: string } = {}): NamespacePeek {
  if (!procIsOwn() || (unknownNamespace(ns) && o.candidates === undefined)) return { visible: false }
  let pids = o.candidates
  if (pids === undefined) {
    try {
      pids = readdirSync('/proc').filter(n => /^[0-9]+$/.test(n)).map(Number)
    } catch {
      return { visible: false }
    }
  }
  let visible = false
  for (const p of pids) {
    if (!unknownNamespace(ns) && namespaceOf(p, 'pid') !== ns) continue
    visible = true
    if (innermostPid(p) !== pid) continue
    if (o.start !== undefined && namespaceOf(p, 'time') === namespaceOf('self', 'time') && processStartTime(p) !== o.start) continue
    return { here: p, visible }
  }
  return { visible }
}
