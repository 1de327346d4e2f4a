import { readFileSync, readlinkSync, statSync } from 'node:fs'

// The initial PID namespace's inode (PROC_PID_INIT_INO, include/linux/proc_ns.h), the one that sees every process.
const INITIAL_PID_NS = 'pid:[4026531836]'

/**
 * Whether a process other than this one has a WAL database open, read from the kernel's table of
 * file locks (/proc/locks): every SQLite connection holds a shared lock on byte 128 of the -shm
 * (UNIX_SHM_DMS, os_unix.c) from its first read until its close, whichever process made the log.
 * Never through a descriptor of our own on the -shm: its close would drop every lock this process
 * holds there (docs/data-directory.md, "Never a descriptor of our own").
 *
 * Answers false ("alone") only when the table shows a lock of this process on that byte of that
 * file and no lock of any other process (held or waited for) on the file: where the table cannot
 * be read, or names the file otherwise (an overlay file system's or a btrfs subvolume's device),
 * the answer is true. Only in the initial PID namespace: the kernel leaves out of the table the
 * locks of processes that /proc's namespace does not see, so in a container's (a sidecar sharing
 * the data directory from a namespace of its own) another process's connection was not there at
 * all, and the answer was "alone" with it open (review42). A lock of another machine (a network
 * file system, where SQLite's WAL does not work anyway) is not in the table.
 */
export function othersHoldShm (dbPath: string): boolean {
  let id: string
  let table: string
  try {
    const st = statSync(`${dbPath}-shm`, { bigint: true })
    // The kernel prints the device as major:minor in hex (glibc's split of st_dev), then the inode.
    const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn)
    const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn)
    id = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino}`
    if (readlinkSync('/proc/self/ns/pid') !== INITIAL_PID_NS) return true
    table = readFileSync('/proc/locks', 'latin1')
  } catch {
    return true
  }
  const me = String(process.pid)
  let mine = false
  for (const line of table.split('\n')) {
    // "3: POSIX  ADVISORY  READ 15529 fe:00:15534078 128 128", a waiter with "->" after the number.
    const f = line.trim().split(/\s+/)
    const at = f.indexOf(id)
    if (at < 1) continue
    if (f[at - 1] !== me) return true
    if (f[at + 1] === '128' && (f[at + 2] === '128' || f[at + 2] === 'EOF')) mine = true
  }
  return !mine
}
