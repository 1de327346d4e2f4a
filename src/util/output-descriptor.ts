import { fstatSync, constants, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs'
import { basename, dirname, normalize } from 'node:path'
import { errorCode } from './narrow.js'

// Which descriptor an output path names (writeOutputFile): this process's own (written as it is
// open), and whether the caller gave it or the process opened it itself.

/**
 * The descriptor of this process that `path` names by itself (/dev/stdout, /dev/stderr, /dev/fd/N,
 * /proc/self/fd/N), which is written as it is open, as a shell's redirection takes these names:
 * followed, they lead to whatever the descriptor holds, and with `>> all.txt` that file was
 * replaced by a rename, losing what it held and all the command printed after (review30).
 */
export function descriptorNamed (path: string): number | undefined {
  const m = /^\/(?:dev\/(stdout|stderr)|dev\/fd\/(\d+)|proc\/self\/fd\/(\d+))$/.exec(normalize(path))
  if (m?.[1] !== undefined) return m[1] === 'stdout' ? 1 : 2
  const n = Number(m === null ? ownDescriptorDir(path) : m[2] ?? m[3])
  return Number.isSafeInteger(n) ? n : undefined
}

/**
 * The number N of a path /proc/PID/fd/N (or …/task/TID/fd/N) of this process however it is spelt
 * (/proc/thread-self/fd/18, /dev/fd/../fd/18): followed as a file, these too led to what the
 * descriptor holds, and chain.db was replaced by the note (review31). Only a name of digits is
 * looked at (one realpath of its directory).
 */
function ownDescriptorDir (path: string): string | undefined {
  const d = descriptorDirOf(path)
  return d !== undefined && d.pid === process.pid ? d.name : undefined
}

/** The process and descriptor number of a path /proc/PID/fd/N (…/task/TID/fd/N) however it is spelt. */
function descriptorDirOf (path: string): { pid: number, name: string } | undefined {
  const name = basename(path)
  if (!/^\d+$/.test(name)) return undefined
  let dir: string
  try {
    dir = realpathSync(dirname(path))
  } catch {
    return undefined
  }
  const p = /^\/proc\/(\d+)(?:\/task\/\d+)?\/fd$/.exec(dir)
  return p === null ? undefined : { pid: Number(p[1]), name }
}

/**
 * Whether `path` names a descriptor of another process (/proc/PID/fd/N, a shell's `$$`): opening
 * it opens what that descriptor is open on, so it is written there in place, as the shell's `>`
 * writes it. It was taken for a file in the directory /proc/PID/fd: a regular file was replaced by
 * a new one (the other process's descriptor left on the old, deleted one), and a descriptor that
 * is not open failed with ENOENT on a temporary name beside it (mend36).
 */
export function otherProcessDescriptor (path: string): boolean {
  const d = descriptorDirOf(path)
  return d !== undefined && d.pid !== process.pid
}

/**
 * Refuse a descriptor above stderr that is not open, or that is one of this process's own rather
 * than one the caller gave it (a shell's `3>> FILE` or `>(gzip > FILE)`, a parent's stdio): with
 * no descriptor 18 given, `checkpoint --sign -o /dev/fd/18` wrote the note over chain.db's header
 * (SQLite's descriptor: "rebuild it with `petal reindex`"), /dev/fd/7 and /dev/fd/12 into libuv's
 * wake-up pipes (SIGSEGV), /dev/fd/19 over chain.db-wal (review31). Node marks every inherited
 * descriptor close-on-exec too, so that flag does not tell them apart; what Node, libuv and SQLite
 * open does: an event descriptor (`anon_inode:`), a pipe whose other end this process holds too,
 * a regular file open for reading and writing (SQLite's; a shell's `>` and `>>` open write-only).
 * `judgedByPath`: the caller refuses a descriptor on a file of the data directory by its path
 * (refuseDescriptorInside), where SQLite's files are; a regular file open for reading and writing
 * is then own only when deleted (SQLite's temporary files), so that a shell's `3<> FILE` outside
 * is written, not refused (mend36). Without procfs, by what fstat tells (checkGivenWithoutProcfs).
 */
export function checkGiven (fd: number, judgedByPath = false): void {
  if (fd <= 2) return
  if (lstatSync('/proc/self/fd', { throwIfNoEntry: false }) === undefined) { checkGivenWithoutProcfs(fd); return }
  let info: string
  let target: string
  try {
    info = readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1')
    target = readlinkSync(`/proc/self/fd/${fd}`)
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err
    throw notGiven(fd, 'is not open')
  }
  const mode = accessMode(info)
  // A pipe's other end: the same pipe open for reading. The same end twice is a given one too
  // (`-o /dev/fd/3 3>&1 | cat`: 3 and 1 both write; it was refused, review32).
  const own = target.startsWith('anon_inode:') ||
    (target.startsWith('pipe:') && readdirSync('/proc/self/fd').some(n => Number(n) !== fd && readlinkOrEmpty(`/proc/self/fd/${n}`) === target && readsPipe(n))) ||
    (mode === 2 && statSync(`/proc/self/fd/${fd}`).isFile() && (!judgedByPath || target.endsWith(' (deleted)')))
  if (own) throw notGiven(fd, `(${target}) was not given to this command but opened by the process itself`)
}

/**
 * checkGiven where /proc is not mounted (a container, a chroot): the descriptor was taken as it
 * was, and /dev/fd/7 and /dev/fd/12 (libuv's wake-up pipes) ended the process with SIGSEGV, as
 * before review31 (mend34; SQLite's files are refused as the data directory's, output-inside.ts).
 * What fstat tells: an event or epoll descriptor has no file type; a pipe is Node's or libuv's own
 * when another descriptor above stderr is on it too (both ends of a pipe have one inode; a pipe
 * given twice, `3>&1 4>&1`, is refused too: nothing tells the ends apart here).
 */
function checkGivenWithoutProcfs (fd: number): void {
  let st: Stats
  try {
    st = fstatSync(fd)
  } catch (err) {
    if (errorCode(err) !== 'EBADF') throw err
    throw notGiven(fd, 'is not open')
  }
  if ((st.mode & constants.S_IFMT) === 0) throw notGiven(fd, '(an event descriptor) was not given to this command but opened by the process itself')
  if (st.isFIFO() && otherDescriptorOn(fd, st)) throw notGiven(fd, '(a pipe this process holds under another descriptor too) was not given to this command but opened by the process itself')
}

/** Whether a descriptor above stderr other than `fd` is on the file of `st` (a scan: no procfs to list them). */
function otherDescriptorOn (fd: number, st: Stats): boolean {
  for (let n = 3; n < 1024; n++) {
    if (n === fd) continue
    try {
      const o = fstatSync(n)
      if (o.ino === st.ino && o.dev === st.dev) return true
    } catch {}
  }
  return false
}

function notGiven (fd: number, why: string): Error {
  return Object.assign(new Error(`descriptor ${fd} ${why}: open it for the command (\`${fd}>> FILE\` in the shell) or name a file`), { code: 'EBADF' })
}

/** O_RDONLY (0), O_WRONLY (1) or O_RDWR (2), from a descriptor's /proc/self/fdinfo text. */
function accessMode (info: string): number {
  return parseInt(/^flags:\s*([0-7]+)$/m.exec(info)?.[1] ?? '0', 8) & 3
}

function readsPipe (n: string): boolean {
  try { return accessMode(readFileSync(`/proc/self/fdinfo/${n}`, 'latin1')) !== 1 } catch { return false }
}

function readlinkOrEmpty (path: string): string {
  try { return readlinkSync(path) } catch { return '' }
}
