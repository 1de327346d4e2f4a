import { fstatSync, lstatSync, readdirSync, readlinkSync, realpathSync, statSync, type BigIntStats } from 'node:fs'
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path'

/**
 * Refuse `path` where a write of it would land in one of `dirs` (writeOutputFile's `outside`):
 * `checkpoint -o DIR/keystore/KEY.json` replaced the signing key by the note (its only copy),
 * `-o DIR/chain.db` the index SQLite had open (INDEX_CORRUPT), a block file the block (review32).
 * Throws an Error with code EINSIDE, the directory as `dir`, for another name of the directory
 * that name as `alias`, and for a hard link the data directory's own name of the file as `file`.
 *
 * Where the write lands is decided by what the kernel opens, not by the text: the real path
 * (through `..` and symlinks, as realpath(3) resolves), then, as the same directory or file can
 * have other names that no symlink leads through, by device and inode: a directory on the way is
 * the data directory under another name (a bind mount, a case-insensitive file system's other
 * spelling), or the file is one of the data directory's under a hard link made outside it (`ln
 * DIR/keystore/KEY.json ~/key.json`, a `cp -al` backup), which is written in place: the key was
 * replaced through the link (review33).
 */
export function refuseInside (path: string, dirs: readonly string[]): void {
  const at = whereWritten(path)
  if (at === undefined) return
  for (const d of dirs) {
    let root: string
    let rootStat: BigIntStats
    try {
      root = realpathSync.native(d)
      rootStat = statSync(root, { bigint: true })
    } catch { continue }
    const r = relative(root, at)
    if (r === '' || (r !== '..' && !r.startsWith('..' + sep) && !isAbsolute(r))) {
      throw Object.assign(new Error(`it is inside ${root}, whose files are Petal's`), { code: 'EINSIDE', dir: root })
    }
    const alias = sameDirAbove(at, rootStat)
    if (alias !== undefined) {
      throw Object.assign(new Error(`it is inside ${alias}, which is ${root} under another name, whose files are Petal's`), { code: 'EINSIDE', dir: root, alias })
    }
    const file = linkedFrom(at, root)
    if (file !== undefined) {
      throw Object.assign(new Error(`it is another name (a hard link) of ${file}, whose files are Petal's`), { code: 'EINSIDE', dir: root, file })
    }
  }
}

/**
 * Refuse descriptor `fd` (`-o /dev/fd/N`) when it is open on a regular file of one of `dirs`: a
 * shell's `3>> DIR/keystore/KEY.json` had the note appended to the key (KEY_FILE_INVALID), and
 * without procfs, where checkGiven cannot tell the process's own descriptors, /dev/fd/19 wrote the
 * note over chain.db-wal (mend34). The file's name from procfs, refused as a path is; without
 * procfs, by device and inode among the directory's files. EINSIDE as refuseInside's, with
 * `descriptor` and the data directory's name of the file as `file`.
 */
export function refuseDescriptorInside (fd: number, dirs: readonly string[]): void {
  const st = fstatSync(fd, { bigint: true })
  if (!st.isFile()) return
  let name: string | undefined
  try { name = readlinkSync(`/proc/self/fd/${fd}`) } catch {}
  if (name?.startsWith('/') === true && !name.endsWith(' (deleted)')) {
    try {
      refuseInside(name, dirs)
    } catch (err) {
      const e = err as { code?: unknown, file?: unknown }
      if (e.code === 'EINSIDE') Object.assign(e, { descriptor: fd, file: typeof e.file === 'string' ? e.file : name })
      throw err
    }
    return
  }
  // Removed from every directory: none of theirs.
  if (st.nlink === 0n) return
  for (const d of dirs) {
    let root: string
    try { root = realpathSync.native(d) } catch { continue }
    const file = fileWithInode(root, st)
    if (file !== undefined) throw Object.assign(new Error(`it is open on ${file}, whose files are Petal's`), { code: 'EINSIDE', dir: root, file, descriptor: fd })
  }
}

/** `at` or the directory above it that is the directory of `rootStat` (the same device and inode), if one is. */
function sameDirAbove (at: string, rootStat: BigIntStats): string | undefined {
  for (let p = at; ; p = dirname(p)) {
    const st = statSync(p, { bigint: true, throwIfNoEntry: false })
    if (st !== undefined && st.ino === rootStat.ino && st.dev === rootStat.dev) return p
    if (dirname(p) === p) return undefined
  }
}

/**
 * The data directory's own name of the regular file at `at` when the file has other hard links
 * and one of them is under `root` (looked for only then: a file of one link is replaced by a
 * rename, which leaves every other file as it is).
 */
function linkedFrom (at: string, root: string): string | undefined {
  const st = statSync(at, { bigint: true, throwIfNoEntry: false })
  if (st === undefined || !st.isFile() || st.nlink < 2n) return undefined
  return fileWithInode(root, st)
}

/** The name under `root` of the regular file of `st` (its device and inode), if it has one there. */
function fileWithInode (root: string, st: BigIntStats): string | undefined {
  const pending = [root]
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    let entries
    try { entries = readdirSync(dir, { withFileTypes: true }) } catch { continue }
    for (const e of entries) {
      const p = join(dir, e.name)
      if (e.isDirectory()) pending.push(p)
      else if (e.isFile()) {
        const s = lstatSync(p, { bigint: true, throwIfNoEntry: false })
        if (s !== undefined && s.ino === st.ino && s.dev === st.dev) return p
      }
    }
  }
  return undefined
}

/**
 * The real path a write of `path` lands on: the file's, through any symlinks (a dangling one's
 * target too), or its real directory's and its name; undefined where no directory leads (the write
 * fails by itself).
 */
function whereWritten (path: string): string | undefined {
  // realpath(3), as the kernel resolves: Node's own takes `link/..` as `.` by the text.
  let p = path
  for (let hop = 0; hop < 40; hop++) {
    try { return realpathSync.native(p) } catch {}
    let dir: string
    try { dir = realpathSync.native(dirname(p)) } catch { return undefined }
    const name = join(dir, basename(p))
    if (lstatSync(name, { throwIfNoEntry: false })?.isSymbolicLink() !== true) return name
    const to = readlinkSync(name)
    p = isAbsolute(to) ? to : `${dir}/${to}`
  }
  return undefined
}
