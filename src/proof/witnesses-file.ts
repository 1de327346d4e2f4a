import { existsSync, lstatSync, readlinkSync, realpathSync, statSync, utimesSync } from 'node:fs'
import { basename, dirname, isAbsolute, join } from 'node:path'
import { NodeLock } from '../storage/index.js'
import { isNotFound, pausepointSync, removeDeadWritersTemps, removeStaleTemps, shellWord, writeFileAtomic } from '../util/index.js'
import { ProofError } from './errors.js'
import { parseWitnessesFile, parseWitnessVkey, readWitnessesFile, WITNESSES_FILE, type KnownWitness } from './witness-keys.js'

// `petal witnesses list | add | remove` (docs/cli.md): the operator's edits of the data directory's
// `witnesses` file (docs/proofs.md, "Which cosignatures a node keeps"). The file stays the
// operator's: an edit changes only the lines it adds or removes, comments and order stay, and it
// replaces the file atomically (a running node reads it whenever it changes: never half written).

export interface ListedWitness {
  name: string
  /** the note key ID, 8 hex digits */
  keyId: string
  vkey: string
  /** 1-based line number in the file */
  line: number
}

function listed (w: KnownWitness, line: number): ListedWitness {
  return { name: w.name, keyId: w.keyId.toString(16).padStart(8, '0'), vkey: w.vkey, line }
}

/** Held (an exclusive SQLite lock, as seal.lock) by one `petal witnesses add|remove` at a time; a link's file's lock is `FILE.lock` beside it (edit). */
export const WITNESSES_LOCK = 'witnesses.lock'

export interface EditOptions {
  signal?: AbortSignal
  /** Called once, when another edit holds the lock: the pids holding it, where /proc/locks tells. */
  onWait?: (holders: number[] | undefined) => void
}

/**
 * Run the read-change-rename `fn` holding witnesses.lock: two edits at once each read the file,
 * and the second rename dropped the first's line (session 51 left it; user52). The kernel frees
 * the lock of a killed edit. An edit by hand takes no lock, as a node's reads need none. The lock
 * is beside the file edited: a `witnesses` link's file (a list shared by nodes) is edited from
 * each of their directories, and a lock in each directory let two of them lose a line (review52b).
 */
async function edit<T> (root: string, fn: () => T, o: EditOptions): Promise<T> {
  const path = join(root, WITNESSES_FILE)
  const file = linkTarget(path)
  const [dir, name] = file === path ? [root, WITNESSES_LOCK] : [dirname(file), `${basename(file)}.lock`]
  if (file !== path && !existsSync(dir)) throw linkNowhere(path, file)
  return await NodeLock.holding(dir, name, fn, o)
}

/**
 * A `witnesses` link to a file whose directory is not there (a share not mounted, a mistyped
 * target): refused. Its file is made where the directory is (as a shell's `>>` would; docs/cli.md,
 * `petal witnesses`), but making the directories too put a list on this machine's disk under a
 * share's mount point, where the nodes sharing it never read it (health53).
 */
function linkNowhere (path: string, file: string): ProofError {
  return new ProofError('PROOF_WITNESSES_LINK_NOWHERE', `${path} is a symbolic link to ${file}, whose directory ${dirname(file)} does not exist`, {
    hint: `mount or make that directory (\`mkdir -p ${shellWord(dirname(file))}\`), or point the link at the list (\`ln -sfn FILE ${shellWord(path)}\`), then edit again`,
    details: { path, target: file }
  })
}

const readText = readWitnessesFile

/** The witnesses the file lists, in its order (a malformed file: PROOF_WITNESSES_INVALID, naming the line). */
export function listWitnesses (root: string): ListedWitness[] {
  const path = join(root, WITNESSES_FILE)
  return listedIn(readText(path), path)
}

/** The witnesses `text` (the file at `path`, read once) lists, with their line numbers in that text. */
function listedIn (text: string, path: string): ListedWitness[] {
  parseWitnessesFile(text, path)
  const out: ListedWitness[] = []
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/u, '').trim()
    const w = line === '' ? undefined : parseWitnessVkey(line)
    if (w !== undefined && typeof w !== 'string') out.push(listed(w, i + 1))
  })
  return out
}

/**
 * Replace the file with `text`, keeping its mode. Its stamp (mtime, size, inode) always changes,
 * even within one tick of a coarse clock, so a running node reads it again (witness-keys.ts). A
 * `witnesses` that is a link (a list kept elsewhere, shared by nodes) is followed, as a node reads
 * it: the file it names is replaced. Replacing the link itself left that list as it was, and this
 * directory's apart from it, saying nothing (review52).
 */
function write (path: string, text: string): void {
  const file = linkTarget(path)
  const before = statSync(file, { throwIfNoEntry: false })
  // Beside a file kept elsewhere, only the temporaries of its own replaces: the directory is not ours.
  if (file === path) removeStaleTemps(dirname(path))
  else removeDeadWritersTemps(dirname(file), basename(file))
  writeFileAtomic(file, text, before === undefined ? 0o644 : before.mode & 0o777)
  const after = statSync(file).mtimeMs
  if (before !== undefined && after <= before.mtimeMs) {
    const t = (before.mtimeMs + 1) / 1000
    utimesSync(file, t, t)
  }
}

/**
 * The file `path` names: itself, or, a symbolic link, the file the link leads to by its real path,
 * which the edit's lock (`FILE.lock` beside it) and its write follow. A link that leads nowhere yet
 * is followed as the kernel follows it, to the name an open would create: each hop's target read
 * relative to the real directory of the link it is in. Before session 54 only the first hop was
 * read, and lexically: a chain of links (`witnesses` -> `l` -> `w`, `w` not there yet) had the edit
 * lock `l.lock` and replace the link `l` by a file, while a directory linked straight to `w` locked
 * `w.lock`; a `..` out of a data directory named through a symbolic link left by another path.
 */
function linkTarget (path: string): string {
  if (lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() !== true) return path
  // realpath(3), not node:fs's realpathSync, which reads a `..` after a linked directory lexically
  // (`sub/../w`, `sub` a link: the directory above `sub`'s target, for the kernel) (review54b).
  try {
    return realpathSync.native(path)
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
  let at = path
  // As the kernel's limit on links followed in one lookup (40 on Linux); a loop is ELOOP there too.
  for (let hops = 0; hops < 40; hops++) {
    const dir = realDir(dirname(at))
    if (dir === undefined) return at // its directory is not there: linkNowhere names it
    at = join(dir, basename(at))
    if (lstatSync(at, { throwIfNoEntry: false })?.isSymbolicLink() !== true) return at
    // Joined as text, not resolve()d: the next hop's realDir takes its `..` as the kernel does.
    const target = readlinkSync(at)
    at = isAbsolute(target) ? target : `${dir}/${target}`
  }
  throw Object.assign(new Error(`ELOOP: too many symbolic links encountered, ${path}`), { code: 'ELOOP', path })
}

/** The real path of directory `dir`, or undefined where it is not there. */
function realDir (dir: string): string | undefined {
  try {
    return realpathSync.native(dir)
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
}

/**
 * Add a witness's verifier key as the last line. Refused: a key that is no witness verifier key
 * (the reason, as a string), a name the file lists already (PROOF_WITNESS_LISTED, with this key or
 * another: one key a name, so that `remove NAME` means one witness).
 */
export async function addWitness (root: string, vkey: string, o: EditOptions = {}): Promise<ListedWitness | string> {
  const w = parseWitnessVkey(vkey)
  if (typeof w === 'string') return w
  return await edit(root, () => added(root, w), o)
}

function added (root: string, w: KnownWitness): ListedWitness {
  const path = join(root, WITNESSES_FILE)
  const text = readText(path)
  pausepointSync('witnesses:read')
  const there = listedIn(text, path).find(k => k.name === w.name)
  if (there !== undefined) {
    const same = there.vkey === w.vkey
    throw new ProofError('PROOF_WITNESS_LISTED', `${path} line ${there.line} lists witness ${w.name} already${same ? '' : `, with another key (key ID ${there.keyId}, not ${listed(w, 0).keyId})`}`, {
      hint: same
        ? 'nothing to do: `petal witnesses list` shows it'
        : `to replace its key, remove the old one first: \`petal witnesses remove ${w.name}\`, then add the new one`
    })
  }
  const lines = text === '' ? 0 : text.replace(/\n$/u, '').split('\n').length
  write(path, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${w.vkey}\n`)
  return listed(w, lines + 1)
}

/**
 * Remove the lines of witness `name` (a name, or its whole verifier key); comments on other lines
 * stay. A name the file does not list: PROOF_WITNESS_NOT_LISTED.
 */
export async function removeWitness (root: string, name: string, o: EditOptions = {}): Promise<ListedWitness[]> {
  return await edit(root, () => removed(root, name), o)
}

function removed (root: string, name: string): ListedWitness[] {
  const path = join(root, WITNESSES_FILE)
  const text = readText(path)
  pausepointSync('witnesses:read')
  const all = listedIn(text, path)
  const gone = all.filter(k => k.name === name || k.vkey === name.trim())
  if (gone.length === 0) {
    throw new ProofError('PROOF_WITNESS_NOT_LISTED', `${path} lists no witness ${JSON.stringify(name)}`, {
      hint: all.length === 0 ? 'nothing to remove: it lists no witness (`petal witnesses list`)' : `\`petal witnesses list\` shows the ${all.length} listed (${all.map(k => k.name).join(', ')})`
    })
  }
  const drop = new Set(gone.map(k => k.line))
  write(path, text.split('\n').filter((_, i) => !drop.has(i + 1)).join('\n'))
  return gone
}
