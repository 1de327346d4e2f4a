import { closeSync, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync, type Stats } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { errorCode, fsyncDir, fsyncDirAsync, fsyncFile, fsyncPathAsync, fsyncPathSync, isNotFound, nameNamespace, readFullySync, tempAbandoned, writeFileAtomic, nameNonce } from '../util/index.js'
import { readSmallFileNative, renameNoReplaceNative, tmpForeignNative } from '../crypto/index.js'
import { sealPathOf, type DataDir } from './layout.js'
import { StorageError } from './errors.js'
import { notRegular, openNoFollowSync, readWholeSync, regularSizeSync } from './data-file.js'

// When tmpBlockPath last made each data directory's tmp/ (ms, monotonic). process.hrtime, not
// performance.now(): the global `performance` loads perf_hooks on first use (~50 fresh pages in a
// `signimportblock`; docs/performance/import.md, "Session 11: the 100-row import and start-up").
const tmpMadeAt = new WeakMap<DataDir, number>()
// A catch-up asks for a path per block and each mkdir is a system call, so it is made at most once
// a second; an operator's `rm -rf tmp/` under a running node then fails creates for at most that
// long, after which retries find it again.
const TMP_MKDIR_EVERY_MS = 1_000

/** A fresh private path in the data directory's tmp/ (same filesystem, so renames are atomic). */
export function tmpBlockPath (dir: DataDir): string {
  const [s, ns] = process.hrtime()
  const now = s * 1e3 + ns / 1e6
  const made = tmpMadeAt.get(dir)
  if (made === undefined || now - made >= TMP_MKDIR_EVERY_MS) {
    mkdirSync(dir.tmpDir, { recursive: true })
    tmpMadeAt.set(dir, now)
  }
  return join(dir.tmpDir, `${tmpOwnPrefix()}${nameNonce(6)}.db`)
}

let ownPrefix: string | undefined
/**
 * How this process's tmp/ names start: `<pid>-n<ns>-`, <ns> its PID namespace (the inode of
 * /proc/self/ns/pid), or 0 where that cannot be read (nameNamespace: judged by age everywhere).
 * The pid stays first so that an older version's cleanTmp, which reads the name up to its first
 * '-' as the pid, judges these as its own.
 */
export function tmpOwnPrefix (): string {
  ownPrefix ??= `${process.pid}-n${nameNamespace()}-`
  return ownPrefix
}

const TMP_NAME = /^([0-9]+)-n([0-9]+)-/

/**
 * Remove tmp/ files left by processes that are no longer running (tempAbandoned's rule: by pid in
 * this PID namespace and for names without one; by age in another namespace, whose pids this
 * process cannot see). A name that is none of this process's kind (not `<pid>-…`) is removed,
 * unless it is not a file.
 */
export function cleanTmp (dir: DataDir): number {
  let removed = 0
  let names: string[]
  // A catch-up's placements (each one's write transaction runs this) find ~500-700 of this
  // process's own files here each time: the addon, where loaded, lists only the others' names
  // (session 41); a listing it could not make is made again the node:fs way, with its errors.
  const own = tmpOwnPrefix()
  const foreign = tmpForeignNative(dir.tmpDir, own)
  try {
    names = Array.isArray(foreign) ? foreign : readdirSync(dir.tmpDir)
  } catch (err) {
    if (isNotFound(err)) return 0
    throw err
  }
  // Own names are passed over without parsing them.
  for (const name of names) {
    if (name.startsWith(own)) continue
    const path = join(dir.tmpDir, name)
    // `<pid>-n<ns>-…` (n0: namespace unknown, by age), or an older `<pid>-…` (judged by pid); no pid at all: removed.
    const m = TMP_NAME.exec(name)
    const pid = Number(m?.[1] ?? name.split('-')[0])
    if (Number.isInteger(pid) && pid > 0 && !tempAbandoned(pid, m?.[2] ?? '', path)) continue
    // Best effort, as the other sweeps: what cannot be removed (a directory, which no Petal makes
    // here) is left. It threw, and every write's recovery with it: an internal error per command.
    try {
      rmSync(path, { force: true })
      removed++
    } catch {}
  }
  return removed
}

// A seal file is its hex DER signature and a newline (up to ~146 bytes): read whole into this
// buffer, without `fstat` (readWholeSync); one a block device would fill (512 bytes or more).
const SEAL_BUF = Buffer.allocUnsafe(511)
// Far above any seal: a larger seal file is damaged, and only its first bytes are read (which then
// do not verify: BAD_SEAL). Read whole, a file of gigabytes took as much memory, and one of 2 GiB
// or more failed in readSync with an uncoded RangeError that ended a whole verify (or import).
const SEAL_FILE_MAX = 64 * 1024

/** String.prototype.trim's white space below 0x80: tab, line feed, vertical tab, form feed, carriage return, space. */
function asciiSpace (b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d)
}

/**
 * `buf.toString('utf8', 0, n).trim()`, with the ends' ASCII white space left out before decoding:
 * trim() returns a slice of the decoded string, on which plain verify's hex decoding of the seal
 * reads each character through the slice (~2.5 K instructions more per block than on a flat
 * string; docs/performance/verify.md, "Session 20: plain verify"). A byte above 0x7f at either end may
 * be part of white space that trim() also removes (U+00A0, U+FEFF, …): then trim() decides.
 */
export function trimmedUtf8 (buf: Buffer, n: number): string {
  let a = 0
  let b = n
  while (a < b && asciiSpace(buf[a] ?? 0)) a++
  while (b > a && asciiSpace(buf[b - 1] ?? 0)) b--
  if (a < b && ((buf[a] ?? 0) >= 0x80 || (buf[b - 1] ?? 0) >= 0x80)) return buf.toString('utf8', a, b).trim()
  return buf.toString('utf8', a, b)
}

/** Read a block's seal (hex DER) from its `.sig` file: one open, one read (plain verify reads one per block). */
export function readSeal (blockPath: string): string {
  const path = sealPathOf(blockPath)
  // One native call where the addon is loaded (plain verify's workers): a small regular file read
  // whole; anything else the node:fs way below, with its errors.
  const got = readSmallFileNative(path, SEAL_BUF)
  if (got > 0) return trimmedUtf8(SEAL_BUF, got)
  try {
    const fd = openNoFollowSync(path, 'seal file')
    try {
      const n = readWholeSync(fd, SEAL_BUF)
      if (n > 0 && n < SEAL_BUF.length) return trimmedUtf8(SEAL_BUF, n)
      // Empty, long, or not a file (readWholeSync): as before, by its fstat.
      const size = regularSizeSync(fd, path, 'seal file')
      const len = Math.min(size, SEAL_FILE_MAX)
      const buf = Buffer.allocUnsafe(len)
      const text = buf.toString('utf8', 0, readFullySync(fd, buf, len, 0))
      // Too large: untrimmed, so that a seal padded past the limit does not pass for one.
      return size > SEAL_FILE_MAX ? text : text.trim()
    } finally {
      closeSync(fd)
    }
  } catch (err) {
    if (isNotFound(err)) throw new StorageError('BLOCK_FILE_MISSING', `seal file missing: ${path}`, { hint: '`petal verify --repair` fetches the block again from a peer and rewrites its seal' })
    throw err
  }
}

/** Make a finished block file durable and write its seal beside it (`.sig`). */
export function prepareBlock (file: string, seal: string): void {
  fsyncFile(file)
  writeFileAtomic(sealPathOf(file), seal + '\n')
}

/**
 * The per-file half of prepareBlocks for one block: the file fsynced, its `.sig` written in
 * place and fsynced (the fsyncs on libuv's thread pool, one round trip per file). A load thread does this for a block it has
 * just checked, so the group's placement does not (`prepared`).
 */
export async function prepareBlockFiles (file: string, seal: string): Promise<void> {
  await Promise.all([fsyncPathAsync(file, 'r+'), fsyncPathAsync(sealPathOf(file), 'w', seal + '\n')])
}

/**
 * prepareBlockFiles on the calling thread, one flush after the other. For a small block: the two
 * fsyncs on the thread pool started its four threads (waiting for each to start, and joining them
 * at exit) for a process that uses the pool for nothing else (docs/performance/import.md, "Session 26:
 * the 100-row import").
 */
export function prepareBlockFilesSync (file: string, seal: string): void {
  fsyncPathSync(file, 'r+')
  fsyncPathSync(sealPathOf(file), 'w', seal + '\n')
}

/**
 * prepareBlock for a group of finished block files at once: each file and its new `.sig` are
 * fsynced concurrently (the file system commits the flushes together instead of one by one),
 * then their directories once. The seals are written in place, not renamed: these are private
 * tmp/ files, and a crash before the group's journal leaves only garbage for cleanTmp. A block
 * `prepared` already (prepareBlockFiles) only has its directory fsynced.
 */
export async function prepareBlocks (blocks: ReadonlyArray<{ file: string, seal: string, prepared?: boolean }>): Promise<void> {
  await Promise.all(blocks.flatMap(b => b.prepared === true ? [] : [prepareBlockFiles(b.file, b.seal)]))
  await Promise.all([...new Set(blocks.map(b => dirname(b.file)))].map(fsyncDirAsync))
}

/**
 * Move a block file and its seal, the seal first so a block file in place always has one. Each
 * file moves only if it exists at `from` and nothing is at `to`, which makes a move idempotent
 * and safe to replay or reverse after a crash, even when slots are reused.
 */
export function moveBlock (from: string, to: string): void {
  renameBlock(from, to)
  fsyncDir(dirname(to))
  // A directory that does not exist had nothing moved out of it: undoing a journalled move to
  // forks/ after a crash before its first rename (forks/ never made) failed here with ENOENT, and
  // the data directory did not open.
  if (dirname(from) !== dirname(to) && existsSync(dirname(from))) fsyncDir(dirname(from))
}

/**
 * moveBlock without the directory fsyncs, for a group of moves that syncs each directory once
 * after the last (`dirReady`: the caller made `to`'s directory already).
 */
export function renameBlock (from: string, to: string, dirReady = false): void {
  if (!dirReady) mkdirSync(dirname(to), { recursive: true })
  for (const [a, b] of [[sealPathOf(from), sealPathOf(to)], [from, to]] as const) {
    // Where the addon is loaded, one renameat2 that replaces nothing: moved (0), or nothing at `a`
    // or no directory for `b` (2), which the rename below passes over too. Something at `b` (1, a
    // replay's case) and -1 go the node:fs way, which decides as it always did (a dangling link at
    // `b` is replaced: existsSync follows it).
    const r = renameNoReplaceNative(a, b)
    if (r === 0 || r === 2) continue
    // Nothing at `b`, and `a` moves if it exists (rename's ENOENT says it does not).
    if (existsSync(b)) continue
    try {
      renameSync(a, b)
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
  }
}

/**
 * renameBlock for a group's placement (journal.ts, applyMovesGrouped), which is never a replay:
 * both renames must happen, as placeBlock's, so something at `to` (a slot above the tip + 1, which
 * recovery does not clear, holding a file left there) is replaced, and nothing at `from` (its tmp/
 * name removed under the writer) is BLOCK_FILE_MISSING. renameBlock's rules kept the one under the
 * new block's index row and recorded the block without its file (review54). `to`'s directory is made.
 */
export function placeRenamed (from: string, to: string): void {
  for (const [a, b] of [[sealPathOf(from), sealPathOf(to)], [from, to]] as const) {
    // One renameat2 that replaces nothing where the addon is loaded (0: moved); else a rename.
    if (renameNoReplaceNative(a, b) === 0) continue
    try {
      renameSync(a, b)
    } catch (err) {
      if (!isNotFound(err)) throw err
      throw new StorageError('BLOCK_FILE_MISSING', `${a} was removed before it could be placed at ${b}`, { hint: 'something deleted files in the data directory\'s tmp/ while a block was written; run the command again' })
    }
  }
}

/**
 * prepareBlock + moveBlock: put a finished block file from tmp/ in its final place. `prepared`:
 * the file is flushed and its `.sig` written and flushed beside it already (prepareBlockFiles).
 * Only the destination's directory is fsynced, not tmp/: a crash that loses the removal of the
 * tmp/ names (never of the new ones, which are durable) leaves a second name of each placed file
 * in tmp/, which nothing reads and the next writer's cleanTmp deletes (the block keeps its own
 * name). A journaled move (a side block, a reorg) keeps both fsyncs (moveBlock): there, recovery
 * looks at the source to decide whether to move a file back.
 */
export function placeBlock (tmpFile: string, dest: string, seal: string, prepared = false): void {
  if (!prepared) prepareBlock(tmpFile, seal)
  mkdirSync(dirname(dest), { recursive: true })
  // Not renameBlock, which skips a file already moved (a journal's replay): here both must move,
  // or the index would record a block whose file is gone (its tmp/ name removed under the writer:
  // an operator's `rm -rf tmp/`). Whatever is at `dest` is replaced: the write transaction's
  // recovery removed a file above the tip whose import did not complete.
  try {
    for (const [a, b] of [[sealPathOf(tmpFile), sealPathOf(dest)], [tmpFile, dest]] as const) {
      try {
        renameSync(a, b)
      } catch (err) {
        if (!isNotFound(err)) throw err
        throw new StorageError('BLOCK_FILE_MISSING', `${a} was removed before it could be placed at ${dest}`, { hint: 'something deleted files in the data directory\'s tmp/ while a block was written; run the command again' })
      }
    }
    fsyncDir(dirname(dest))
  } catch (err) {
    // A placement that failed half way (the file's rename or the directory's fsync: EIO, ENOSPC)
    // takes back what it placed: the seal alone above the tip was left for readers to see until
    // the next writer's recovery (found by the fault torture, session 33). `dest` is above the
    // tip, so nothing else is there.
    for (const p of [dest, sealPathOf(dest)]) { try { unlinkSync(p) } catch {} }
    throw err
  }
}

/**
 * Put a verified copy of a stored block back in its slot, replacing whatever is there (a damaged
 * file, a symlink, nothing): the seal first, then the file, each by an atomic rename after an
 * fsync. A crash leaves the old (damaged) file or the new one, never part of one. Used by repair,
 * never for new blocks (their slots are placed through moveBlock and the journal).
 */
export function replaceBlock (tmpFile: string, dest: string, seal: string): void {
  // A directory in the block's or the seal's place: a rename cannot replace it (EISDIR, uncoded,
  // which ended a whole `verify --repair`), and Petal never deletes one.
  for (const [path, what] of [[dest, 'block file'], [sealPathOf(dest), 'seal file']] as const) {
    const st = lstatOrUndefined(path)
    if (st?.isDirectory() === true) throw notRegular(path, what, st)
  }
  fsyncFile(tmpFile)
  mkdirSync(dirname(dest), { recursive: true })
  writeFileAtomic(sealPathOf(dest), seal + '\n')
  renameSync(tmpFile, dest)
  fsyncDir(dirname(dest))
}

function lstatOrUndefined (path: string): Stats | undefined {
  try { return lstatSync(path) } catch (err) { if (isNotFound(err)) return undefined; throw err }
}

export function removeBlock (path: string): void {
  for (const p of [sealPathOf(path), path]) {
    try { unlinkSync(p) } catch (err) { if (!isNotFound(err)) throw err }
  }
}

/** Copy a seal next to a block file that is not in a data directory (exports, fixtures). */
export function writeSealFile (blockPath: string, seal: string): void {
  writeFileSync(sealPathOf(blockPath), seal + '\n')
}

/** Block files in forks/, by hash. */
export function listForkFiles (dir: DataDir): string[] {
  try {
    return readdirSync(dir.forksDir).filter(n => /^[0-9a-f]{64}\.db$/.test(n)).map(n => basename(n, '.db'))
  } catch (err) {
    if (isNotFound(err)) return []
    throw err
  }
}

/**
 * The highest height at or above `from` that has a canonical block file in its slot (a `.db` in a
 * shard directory), or `from` − 1 when none has. Reads the shard directories from `from`'s on, not
 * a stat a height: reindex asks it whether files lie above the first missing one (chain/reindex.ts).
 */
export function lastBlockFile (dir: DataDir, from: number): number {
  let last = from - 1
  let shards: string[]
  try {
    shards = readdirSync(dir.blocksRoot).filter(n => /^[0-9a-f]{4}$/.test(n) && parseInt(n, 16) >= Math.floor(from / 65536))
  } catch (err) {
    if (isNotFound(err)) return last
    throw err
  }
  for (const shard of shards) {
    let names: string[]
    try {
      names = readdirSync(join(dir.blocksRoot, shard))
    } catch (err) {
      if (errorCode(err) === 'ENOTDIR') continue // a file of that name: no block of its shard is there
      throw err
    }
    for (const name of names) {
      const m = /^block_([0-9a-f]{8})\.db$/.exec(name)
      const h = m === null ? -1 : parseInt(m[1] as string, 16)
      if (h > last && Math.floor(h / 65536) === parseInt(shard, 16)) last = h
    }
  }
  return last
}
