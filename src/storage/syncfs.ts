import { spawn, type ChildProcess } from 'node:child_process'
import { statfsSync } from 'node:fs'
import { constants } from 'node:os'
import { syncfsNative } from '../crypto/index.js'
import { errorMessage, trackChildProcess } from '../util/index.js'
import { StorageError } from './errors.js'
import { systemFailure } from './system-error.js'

// syncfs(2) of the file system that holds a directory, for a group's placement: one flush of
// everything written there instead of two fsyncs per block (docs/data-directory.md, "Crash
// safety"; docs/performance/catchup.md, "Session 13: catch-up placement"). Node has no syncfs:
// the native addon calls it on libuv's thread pool (session 39); without the addon, a small
// long-lived shell runs coreutils' `sync -f` (syncfs since 8.24) on request: forking that shell
// costs less than forking this process per group, and the event loop never waits for a fork. Both give the same verdicts.

/** File systems (statfs f_type) whose syncfs commits the journal and flushes the disk's cache for every file: ext2/3/4, XFS, btrfs. */
const SYNCFS_FS_TYPES = new Set([0xEF53, 0x58465342, 0x9123683E])

/**
 * Fewest unflushed blocks of a group worth a syncfs (measured: a syncfs with little dirty costs
 * ~5–15 ms, the fsyncs ~0.25 ms per block).
 */
export const SYNCFS_MIN_BLOCKS = 32

const MARK = '@petal-syncfs '
// One request a line (a directory); sync's own messages (stderr too) come first, then the mark
// and its exit status on a line of their own (after a newline: output that does not end with one
// must not hide the mark, or the request would never be answered). sync reads /dev/null, not the
// requests that follow. The shell ends when its stdin closes, i.e. when this process dies.
// The C locale: the error's text is matched below.
const SCRIPT = `while IFS= read -r d; do LC_ALL=C sync -f -- "$d" </dev/null 2>&1; s=$?; printf '\\n${MARK}%s\\n' "$s"; done`

// strerror texts (LC_ALL=C) of a failed syncfs that mean the flush failed, as from a failed fsync.
const ERRNO_OF: Record<string, string> = {
  'Input/output error': 'EIO',
  'No space left on device': 'ENOSPC',
  'Disk quota exceeded': 'EDQUOT',
  'File too large': 'EFBIG',
  'Read-only file system': 'EROFS'
}

interface Pending { resolve: (r: { status: number, output: string }) => void, reject: (err: Error) => void }

let helper: { child: ChildProcess, pending: Pending[] } | undefined
// Set once syncfs proved unavailable in this process (no `sync -f`, the helper could not start or died).
let unavailable = false

let mode: 'on' | 'off' | 'auto' = 'auto'
// Tests of the helper turn the native call off (useNativeSyncfs).
let nativeAllowed = true

/** Tests: false makes syncFileSystem use the helper shell even where the addon is built. */
export function useNativeSyncfs (on: boolean): void {
  nativeAllowed = on
}

/**
 * The CLI's `PETAL_SYNCFS`: '0' never, '1' for every group on any file system (tests), 'auto', ''
 * or unset automatic (syncfsWanted). False, the mode unchanged, for any other value: the caller
 * refuses it (a typo such as `off` must not leave syncfs on unnoticed).
 */
export function setSyncfsMode (value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'auto') mode = 'auto'
  else if (value === '0') mode = 'off'
  else if (value === '1') mode = 'on'
  else return false
  return true
}

/**
 * Whether `blocks` unflushed block files in `dir` should be made durable by one syncfs. Linux only
 * (elsewhere `sync` may take no operand and return before the disk has the data), on the file
 * systems above, for a group of SYNCFS_MIN_BLOCKS or more. `PETAL_SYNCFS=1`: for any group on any
 * file system (tests); `PETAL_SYNCFS=0`: never.
 */
export function syncfsWanted (dir: string, blocks: number): boolean {
  const m = mode
  if (m === 'off' || unavailable || process.platform !== 'linux' || blocks === 0 || dir.includes('\n')) return false
  if (m === 'on') return true
  if (blocks < SYNCFS_MIN_BLOCKS) return false
  try {
    return SYNCFS_FS_TYPES.has(statfsSync(dir).type)
  } catch {
    return false
  }
}

/**
 * syncfs(2) of the file system holding `dir`: everything written there before the call is durable
 * when it resolves true. False: syncfs is not available here (no `sync -f`, a helper that could
 * not start or died, an error this code does not know); the caller flushes file by file, and every
 * later call returns false at once. Throws a coded StorageError when syncfs reports that the flush
 * failed (EIO, ENOSPC…), as a failed fsync would.
 */
export async function syncFileSystem (dir: string): Promise<boolean> {
  if (unavailable) return false
  // The addon's syncfs on libuv's pool: no fork and exec of `sync` a group (~3 ms of CPU each).
  const native = nativeAllowed ? syncfsNative(dir) : undefined
  if (native !== undefined) return flushed(dir, await native)
  let r: { status: number, output: string }
  try {
    r = await request(dir)
  } catch {
    unavailable = true
    return false
  }
  if (r.status === 0) return true
  const failed = /error syncing .*: ([^:\n]+)\s*$/.exec(r.output)
  const code = failed === null ? undefined : ERRNO_OF[failed[1] as string]
  if (code === undefined) {
    unavailable = true
    return false
  }
  throw syncfsFailure(dir, code, (failed as RegExpExecArray)[1] as string)
}

// The errnos of ERRNO_OF by number (Linux's), for the addon's answer. Made at the first answer:
// node:os's errno table loads node:os, which every fast bundle holding this module (the query
// sandbox's too) loaded at start for it (docs/performance/query.md, "Session 42: petal query").
let flushFailed: Map<number, string> | undefined
const flushFailedCode = (errno: number): string | undefined =>
  (flushFailed ??= new Map(Object.values(ERRNO_OF).map(code => [constants.errno[code as keyof typeof constants.errno], code]))).get(errno)

/** The addon's answer as the helper's: true, a coded failure of the flush, or false (and unavailable from then on) for any other errno. */
function flushed (dir: string, errno: number): boolean {
  if (errno === 0) return true
  const code = flushFailedCode(errno)
  if (code === undefined) {
    unavailable = true
    return false
  }
  throw syncfsFailure(dir, code, code)
}

function syncfsFailure (dir: string, code: string, why: string): Error {
  const err = Object.assign(new Error(`syncfs ${dir}: ${why}`), { code, syscall: 'syncfs', path: dir })
  return systemFailure(err) ?? new StorageError('IO_ERROR', errorMessage(err), { cause: err })
}

async function request (dir: string): Promise<{ status: number, output: string }> {
  const h = helper ?? startHelper()
  const done = new Promise<{ status: number, output: string }>((resolve, reject) => { h.pending.push({ resolve, reject }) })
  // Held while a request waits: an idle helper must not keep this process alive.
  h.child.ref()
  ;(h.child.stdout as unknown as { ref: () => void }).ref()
  h.child.stdin?.write(dir + '\n')
  return await done
}

function startHelper (): { child: ChildProcess, pending: Pending[] } {
  const child = spawn('sh', ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'ignore'] })
  const h = { child, pending: [] as Pending[] }
  helper = h
  trackChildProcess(child)
  let text = ''
  let output: string[] = []
  const idle = (): void => {
    if (h.pending.length > 0) return
    child.unref()
    ;(child.stdout as unknown as { unref: () => void }).unref()
  }
  child.stdout?.setEncoding('utf8')
  child.stdout?.on('data', (chunk: string) => {
    text += chunk
    let nl: number
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl)
      text = text.slice(nl + 1)
      if (!line.startsWith(MARK)) {
        output.push(line)
        continue
      }
      h.pending.shift()?.resolve({ status: Number(line.slice(MARK.length)), output: output.join('\n') })
      output = []
      idle()
    }
  })
  const gone = (err: Error): void => {
    if (helper === h) helper = undefined
    unavailable = true
    for (const p of h.pending.splice(0)) p.reject(err)
  }
  child.on('error', gone)
  child.on('exit', () => { gone(new Error('the syncfs helper exited')) })
  // A write to a helper that is gone: its 'exit' or 'error' rejects the requests.
  child.stdin?.on('error', () => {})
  idle()
  return h
}

/** Stop the helper (tests): the next request starts a new one; `reset` also forgets that syncfs was unavailable. */
export async function stopSyncfsHelper (reset = false): Promise<void> {
  const h = helper
  helper = undefined
  if (h !== undefined && h.child.exitCode === null && h.child.signalCode === null) {
    h.child.ref()
    const exited = new Promise<void>(resolve => { h.child.once('exit', () => { resolve() }) })
    h.child.stdin?.end()
    await exited
  }
  if (reset) unavailable = false
}
