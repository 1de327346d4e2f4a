import { readdirSync, readFileSync, statSync } from 'node:fs'
import { procIsOwn } from './stale-temps.js'

/** /proc/locks' text as read once, for the holders of several files (lockHolders' `table`). */
export interface LockTable { readonly text: string | undefined }

/** Read /proc/locks for lockHolders of several files: one read, one instant for all of them. */
export function readLockTable (): LockTable {
  return { text: procIsOwn() ? readProcLocks() : undefined }
}

function readProcLocks (): string | undefined {
  try {
    return readFileSync('/proc/locks', 'utf8')
  } catch {
    return undefined
  }
}

/**
 * The processes that hold a POSIX (fcntl) lock on `path`, as SQLite's locks are (node.lock), read
 * from /proc/locks (`table`: as read once for several files): undefined where that cannot be read
 * (not Linux), or where /proc's pids are not this process's (procIsOwn). Pids are as this process
 * sees them (`byte`: of the exclusive locks that cover that byte only); waiters (`->`) and open-file-description locks (no pid) are left out, and so are the locks of processes in a PID
 * namespace this one cannot see into (a sibling container's: the kernel lists only those it can
 * name), so an empty list does not say that no process holds one.
 */
export function lockHolders (path: string, table?: LockTable, byte?: number): number[] | undefined {
  if (!procIsOwn()) return undefined
  let dev: bigint
  let ino: bigint
  try {
    ;({ dev, ino } = statSync(path, { bigint: true }))
  } catch {
    return undefined
  }
  const text = table === undefined ? readProcLocks() : table.text
  if (text === undefined) return undefined
  // /proc/locks names a file as MAJOR:MINOR:INODE, the device numbers in hex (glibc's dev_t split).
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn)
  const id = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${ino}`
  const pids = new Set<number>()
  for (const line of text.split('\n')) {
    // "12: POSIX  ADVISORY  WRITE 4242 fe:00:8438053 1073741824 1073742335"
    const f = line.trim().split(/\s+/)
    if (f[1] !== 'POSIX' || f[5] !== id) continue
    // `byte`: only the exclusive locks that cover it (SQLite's write lock on a -shm: storage/writer-record.ts).
    if (byte !== undefined && (f[3] !== 'WRITE' || Number(f[6]) > byte || (f[7] !== 'EOF' && Number(f[7]) < byte))) continue
    const pid = Number(f[4])
    if (Number.isSafeInteger(pid) && pid > 0) pids.add(pid)
  }
  return [...pids]
}

/**
 * How process `pid` is stopped: 'job' (Ctrl-Z, SIGSTOP: SIGCONT resumes it), 'traced' (held by a
 * debugger, such as gdb: only that resumes it, SIGCONT does not), or undefined when it runs or is
 * gone. Stopped either way, it holds its locks and does nothing.
 */
export function processStopState (pid: number): 'job' | 'traced' | undefined {
  if (!procIsOwn()) return undefined
  const state = stateOf(`/proc/${pid}/stat`)
  if (state === 'T') return 'job'
  if (state !== 't') return undefined
  // 't' is any tracer's stop, also the instant strace holds a thread at each system call (a busy
  // process under `strace -f` reads 't' most of the time): a debugger holds every thread, and
  // still a moment later (one attaching to a process stopped with Ctrl-Z takes its threads from
  // 'T' one by one).
  if (!allThreadsStopped(pid)) return undefined
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, TRACED_RECHECK_MS)
  return allThreadsStopped(pid) ? 'traced' : undefined
}

const TRACED_RECHECK_MS = 20

/** The state letter in a /proc stat file: "pid (comm) S …", after comm's last ')' (comm may hold any character). */
function stateOf (statFile: string): string | undefined {
  try {
    const stat = readFileSync(statFile, 'utf8')
    return stat.charAt(stat.lastIndexOf(')') + 2)
  } catch {
    return undefined
  }
}

/**
 * When process `pid` started, as /proc/PID/stat's field 22 (clock ticks since boot): with the pid,
 * it names one process instance, where a pid alone may have been reused by an unrelated process
 * since it was written down. Undefined where it cannot be read (the process is gone, or no /proc,
 * or /proc's pids are not this process's: then only its own is read, through /proc/self).
 */
export function processStartTime (pid: number): string | undefined {
  if (pid !== process.pid && !procIsOwn()) return undefined
  try {
    const stat = readFileSync(`/proc/${pid === process.pid ? 'self' : pid}/stat`, 'utf8')
    // Fields 3 onwards follow comm's last ')': field 22 is the 20th of them.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/** Whether every thread of `pid` is stopped, by a tracer or a job stop (a thread that ended meanwhile is not counted). */
function allThreadsStopped (pid: number): boolean {
  let tids: string[]
  try { tids = readdirSync(`/proc/${pid}/task`) } catch { return false }
  let seen = 0
  for (const tid of tids) {
    const s = stateOf(`/proc/${pid}/task/${tid}/stat`)
    if (s === undefined) continue
    if (s !== 't' && s !== 'T') return false
    seen++
  }
  return seen > 0
}

/** True when process `pid` is stopped (Ctrl-Z, SIGSTOP, a debugger): it holds its locks and does nothing until resumed. */
export function processStopped (pid: number): boolean {
  return processStopState(pid) !== undefined
}

/** The command line of process `pid` (at most `max` characters), or undefined where it cannot be read. */
export function processCommand (pid: number, max = 120): string | undefined {
  if (!procIsOwn()) return undefined
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(a => a !== '').join(' ')
    if (cmd === '') return undefined
    return cmd.length > max ? cmd.slice(0, max - 1) + '…' : cmd
  } catch {
    return undefined
  }
}

/**
 * How to resume or end a stopped process `pid`, for hints. A stopped process acts on no signal
 * but SIGKILL until it runs again, and Petal handles SIGTERM (a clean stop): `kill PID` alone
 * leaves it stopped, holding its locks, so the way to end it sends SIGCONT after. One a debugger
 * holds ignores SIGCONT: it is continued there, or ended with SIGKILL.
 */
export function resumeAdvice (pid: number): string {
  if (processStopState(pid) === 'traced') return `a debugger or tracer holds it: continue or detach it there, or end it (\`kill -9 ${pid}\`)`
  return `resume it (\`fg\` in its shell, or \`kill -CONT ${pid}\`) or end it (\`kill ${pid}; kill -CONT ${pid}\`: stopped, it acts on no signal until resumed)`
}
