import { accessSync, constants, existsSync, lstatSync, statSync } from 'node:fs'
import { userInfo } from 'node:os'
import { dirname } from 'node:path'
import { errorCode, shellWord } from '../util/index.js'
import { StorageError } from './errors.js'
import type { DataDir } from './layout.js'

/**
 * The command that lets this user write `path` (a file or a directory): another user's given to
 * this one (as root: only root may chown), write permission for the owner where it lacks it.
 * Undefined where neither explains the refusal (an ACL, a security module's policy) or the path
 * cannot be looked at.
 */
export function unwritableFix (path: string): { command: string, other: boolean } | undefined {
  const st = statSync(path, { throwIfNoEntry: false })
  const uid = process.getuid?.()
  if (st === undefined || uid === undefined) return undefined
  const file = shellWord(path)
  const other = st.uid !== uid
  const chmod = (st.mode & 0o200) === 0 ? `chmod u+w ${file}` : undefined
  if (!other) return chmod === undefined ? undefined : { command: `run \`${chmod}\``, other }
  const commands = [`chown ${shellWord(userName(uid))} ${file}`, ...(chmod === undefined ? [] : [chmod])].join(' && ')
  return { command: `as root, give it to this user: \`${commands}\``, other }
}

/** This user's name (the uid where the system names none: chown takes either). */
function userName (uid: number): string {
  try {
    return userInfo().username
  } catch {
    return String(uid)
  }
}

/** `path`, or where it is not there, the nearest directory above it that is (where it would be made). */
function standingPath (path: string): string {
  for (let p = path; ; p = dirname(p)) {
    if (lstatSync(p, { throwIfNoEntry: false }) !== undefined || dirname(p) === p) return p
  }
}

/**
 * PERMISSION_DENIED when this user may not write `path` (or, where it is not there yet, the
 * directory it would be made in), naming it and, in the hint, the command that fixes it; undefined
 * when it may, or when the refusal is not the owner's or mode's doing (a read-only file system:
 * the write's own error says so). `what` says what the path is to Petal ("the chain index").
 */
export function writeRefusal (path: string, what: string): StorageError | undefined {
  const at = standingPath(path)
  try {
    accessSync(at, constants.W_OK)
    return undefined
  } catch (err) {
    const code = errorCode(err)
    if (code !== 'EACCES' && code !== 'EPERM') return undefined
    const dir = at !== path || statSync(at, { throwIfNoEntry: false })?.isDirectory() === true
    const fix = unwritableFix(at)
    const ls = `\`ls -l${dir ? 'd' : ''} ${shellWord(at)}\` shows its owner and mode`
    return new StorageError('PERMISSION_DENIED', at === path
      ? `this user may not write ${what} ${path}${fix?.other === true ? ' (another user\'s)' : ''}`
      : `this user may not write ${at}${fix?.other === true ? ' (another user\'s)' : ''}, where ${what} ${path} is made`, {
      hint: fix === undefined ? `check its owner and mode (${ls}), or run Petal as a user who may write it` : `${fix.command} (${ls}), or run Petal as a user who may write it`,
      details: { systemCode: code, path: at }
    })
  }
}

/** The first writeRefusal of `paths`, thrown. */
export function refuseUnwritable (paths: ReadonlyArray<readonly [path: string, what: string]>): void {
  for (const [path, what] of paths) {
    const refusal = writeRefusal(path, what)
    if (refusal !== undefined) throw refusal
  }
}

/**
 * The index's files: chain.db and, where there, its log and shared memory. SQLite opens any of
 * them it may not write read-only, silently, and its connection stays read-only (a fix of the
 * owner later does not make it writable: only a new connection is).
 */
export function indexFiles (dir: DataDir): Array<[string, string]> {
  const db = dir.chainDb
  const parts: Array<[string, string]> = [[`${db}-wal`, 'the chain index\'s log'], [`${db}-shm`, 'the chain index\'s shared memory']]
  return [[db, 'the chain index'], ...parts.filter(([f]) => existsSync(f))]
}

/**
 * Refuse, before any work, a block at `height` this user could not place and record: the chain
 * index's files, the block's shard directory and tmp/ (where it is built) must be writable. A
 * block built and placed before the refusal came (the shard's rename: EACCES; chain.db's write:
 * SQLITE_READONLY) was removed again by recovery at each of the seal loop's retries, and neither
 * named the path (session 54's left).
 */
export function refuseUnplaceable (dir: DataDir, height: number): void {
  refuseUnwritable([...indexFiles(dir), [dir.shardDir(height), 'the block directory'], [dir.tmpDir, 'the temporary directory']])
}

/**
 * refuseUnplaceable for the blocks `from`…`to` a sync is about to fetch: every block directory
 * they go in (one a 65,536 heights), `tmp/` (where they are downloaded) and the index's files,
 * before any byte is downloaded. A root-owned block directory was met at the placement's rename,
 * after the download, and coded only there, at every retry (session 55's left).
 */
export function refuseUnplaceableRange (dir: DataDir, from: number, to: number): void {
  const shards: Array<[string, string]> = []
  // Up to the first block directory not made yet: it and every one above it are made in the data
  // directory, one check. `to` is a peer's claim: a signatory's header sealed at height 2^52 made
  // this a loop of 2^36 steps on the event loop, and a node ran out of memory (review56b).
  for (let h = from; h <= to; h = (Math.floor(h / SHARD_HEIGHTS) + 1) * SHARD_HEIGHTS) {
    shards.push([dir.shardDir(h), 'the block directory'])
    if (!existsSync(dir.shardDir(h))) break
  }
  refuseUnwritable([...indexFiles(dir), ...shards, [dir.tmpDir, 'the temporary directory']])
}

/** Heights a block directory holds (layout.ts's shardName). */
const SHARD_HEIGHTS = 65_536
