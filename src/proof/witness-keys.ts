import { lstatSync, readFileSync, readlinkSync, statSync, type Stats } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import type { Chain } from '../chain/index.js'
import { parsePublicKey, sha256, type PublicKey } from '../crypto/index.js'
import { fileKind, OWN_WITNESS_META, systemFailure } from '../storage/index.js'
import { asError, errorCode, errorMessage, hintOf, isNotFound, isPetalError, shellWord, type Logger } from '../util/index.js'
import { ProofError } from './errors.js'
import { fromBase64, keyIdHex, keyIdOfDigest, toBase64, utf8, witnessKeyIdInput } from './verifier/index.js'

// The witnesses a node knows (docs/proofs.md "Which cosignatures a node keeps"): the verifier keys
// its operator listed in the data directory's `witnesses` file, and its own when it runs as a
// witness. A node keeps and passes on a cosignature line only when it verified it with one of these:
// a line it cannot verify may be forged (names and key IDs are public), and one forged line of a
// witness a verifier demands makes it refuse the whole note (C2SP: a known key's bad signature).
// Which witnesses count is the operator's choice, as a verifier's is: not the chain's definition
// (chainparams.json cannot change after the genesis; witnesses come and go).

export const WITNESSES_FILE = 'witnesses'
/** chain.db meta: the verifier key under which this node cosigned (`petal run --witness`; kept by reindex). */
export { OWN_WITNESS_META }

export interface KnownWitness {
  name: string
  /** the note key ID */
  keyId: number
  publicKey: PublicKey
  /** the verifier key, as `petal checkpoint --witness-vkey` prints it */
  vkey: string
}

const COSIGNATURE_TYPE = Uint8Array.from([0xff, ...utf8('petal/v2/cosignature')])

/** A witness's verifier key, computed here without WebCrypto (the node's side). */
export function witnessVkeySync (name: string, key: PublicKey): string {
  const keyId = keyIdOfDigest(sha256(witnessKeyIdInput(name, key.spki)))
  return `${name}+${keyIdHex(keyId)}+${toBase64(Uint8Array.from([...COSIGNATURE_TYPE, ...key.spki]))}`
}

/** Parse one witness verifier key (`name+keyid+base64(0xff ‖ "petal/v2/cosignature" ‖ SPKI)`). */
export function parseWitnessVkey (text: string): KnownWitness | string {
  const t = text.trim()
  const first = t.indexOf('+')
  const second = t.indexOf('+', first + 1)
  if (first <= 0 || second < 0) return 'a verifier key has three parts: name+keyid+key'
  const name = t.slice(0, first)
  const bytes = fromBase64(t.slice(second + 1))
  if (/\s/u.test(name)) return `invalid key name ${JSON.stringify(name)}`
  if (bytes === undefined || bytes.length <= COSIGNATURE_TYPE.length || !COSIGNATURE_TYPE.every((b, i) => bytes[i] === b)) {
    return 'not a witness\'s verifier key (type 0xff "petal/v2/cosignature"): a signatory\'s key is known from the chain already'
  }
  let publicKey: PublicKey
  try {
    publicKey = parsePublicKey(bytes.subarray(COSIGNATURE_TYPE.length))
  } catch {
    return 'the key is not a P-256 public key'
  }
  const vkey = witnessVkeySync(name, publicKey)
  if (vkey !== t) return `the key ID ${t.slice(first + 1, second)} does not match the key (expected ${vkey.slice(first + 1, first + 9)})`
  return { name, keyId: keyIdOfDigest(sha256(witnessKeyIdInput(name, publicKey.spki))), publicKey, vkey }
}

/** Parse a `witnesses` file: one verifier key per line; blank lines and `#` comments are skipped. */
export function parseWitnessesFile (text: string, path: string): KnownWitness[] {
  const out: KnownWitness[] = []
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/u, '').trim()
    if (line === '') return
    const w = parseWitnessVkey(line)
    if (typeof w === 'string') {
      throw new ProofError('PROOF_WITNESSES_INVALID', `${path} line ${i + 1}: ${w}`, {
        hint: `each line of ${path} is a witness's verifier key, as its operator prints it with \`petal checkpoint --witness-vkey NAME\` on their node (text after # is a comment): correct or remove line ${i + 1}`
      })
    }
    if (!out.some(k => k.vkey === w.vkey)) out.push(w)
  })
  return out
}

const NONE: KnownWitness[] = []

interface Loaded {
  /** the file's stamp when last read */
  stamp: string
  /** the witnesses in use: the file's, or the last good list while the file is malformed */
  keys: KnownWitness[]
  /** why the file as it is now was not taken (its error), while the last good list is kept */
  problem?: Error
}
const loaded = new Map<string, Loaded>()

/**
 * The `witnesses` file of a data directory, read again only when it changes. A file made
 * malformed (or unreadable) after a good read keeps the last good list in use, with one warning a
 * change (docs/proofs.md, "The witnesses file while a node runs"): a node that dropped every
 * witness at an editor's half-saved or mistyped file would drop cosignatures silently. At the
 * first read of a process (a node's start, a command) it is an error.
 */
function fileWitnesses (root: string, logger: Logger): KnownWitness[] {
  const path = join(root, WITNESSES_FILE)
  const hit = loaded.get(path)
  let stamp: string | undefined
  let keys: KnownWitness[]
  try {
    const s = statWitnesses(path)
    if (s === undefined) {
      if (hit?.stamp === '') return NONE
      if (hit !== undefined) logger.info('the witnesses file is gone: no witness is listed')
      loaded.set(path, { stamp: '', keys: NONE })
      return NONE
    }
    stamp = `${s.mtimeMs} ${s.size} ${s.ino}`
    if (hit?.stamp === stamp) return hit.keys
    keys = parseWitnessesFile(readWitnessesText(path), path)
  } catch (err) {
    if (hit === undefined) throw err
    const problem = asError(err)
    // A file that cannot even be looked at (EACCES on the directory) has no stamp: its error stands for one.
    stamp ??= `unreadable: ${problem.message}`
    if (hit.stamp === stamp) return hit.keys
    loaded.set(path, { stamp, keys: hit.keys, problem })
    logger.warn('the witnesses file is not taken: keeping the witnesses listed before', {
      error: problem.message, hint: (isPetalError(err) ? hintOf(err) : undefined) ?? `correct ${path} or make it readable`, kept: hit.keys.map(k => k.name)
    })
    return hit.keys
  }
  loaded.set(path, { stamp, keys })
  if (hit !== undefined) logger.info('read the witnesses file again', { witnesses: keys.map(k => k.name) })
  return keys
}

/**
 * The `witnesses` file's stat: undefined when there is none; PROOF_WITNESSES_UNREADABLE when it
 * cannot be looked at or is no regular file (a directory: its read threw a bare EISDIR, which the
 * CLI called a path conflict with the hint "check the paths you gave"; a named pipe would block the
 * read for ever). It may be a symbolic link: the file is the operator's, not Petal's.
 */
function statWitnesses (path: string): Stats | undefined {
  let s: Stats
  try {
    s = statSync(path)
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw unreadable(path, err)
  }
  if (!s.isFile()) {
    throw new ProofError('PROOF_WITNESSES_UNREADABLE', `${path} is ${fileKind(s)}, not the witnesses file (one witness's verifier key a line)`, {
      hint: `move it out of the way: \`petal witnesses add VKEY\` then writes the file, or list no witness without it`,
      details: { path }
    })
  }
  return s
}

/** The text of the `witnesses` file at `path` (found by statWitnesses). */
function readWitnessesText (path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw unreadable(path, err)
  }
}

/** The `witnesses` file's text as it is now: '' when there is none; PROOF_WITNESSES_UNREADABLE when it cannot be read. */
export function readWitnessesFile (path: string): string {
  if (statWitnesses(path) === undefined) return ''
  try {
    return readWitnessesText(path)
  } catch (err) {
    // Removed between the stat and the read (unreadable() leaves ENOENT as it is).
    if (isNotFound(err)) return ''
    throw err
  }
}

function unreadable (path: string, err: unknown): Error {
  const code = errorCode(err)
  if (code === 'EACCES' || code === 'EPERM') {
    // A link's list (kept elsewhere, shared by nodes): its own file and directory are the ones to
    // name; the data directory and the link were readable, and their `ls -ld` showed nothing (review53).
    const file = linkedFile(path)
    const who = file === path ? 'run as the user the data directory belongs to' : 'run as a user who may'
    return new ProofError('PROOF_WITNESSES_UNREADABLE', `cannot read ${path}${file === path ? '' : `, a link to ${file}`}: permission denied (${errorMessage(err)})`, {
      hint: `this user needs to read ${file} and to search ${dirname(file)}: ${who}, or change their owner or mode (ls -ld ${shellWord(dirname(file))} ${shellWord(file)})`,
      details: { path, systemCode: code },
      cause: err
    })
  }
  return systemFailure(err) ?? asError(err)
}

/** The file a symbolic link at `path` names (one step, as written in it), else `path`. */
function linkedFile (path: string): string {
  try {
    return lstatSync(path).isSymbolicLink() ? resolve(dirname(path), readlinkSync(path)) : path
  } catch {
    return path
  }
}

/**
 * Why this process does not take the data directory's `witnesses` file as it is now (it keeps the
 * last good list), or undefined when it took it (or has not read it).
 */
export function witnessesFileProblem (root: string): Error | undefined {
  return loaded.get(join(root, WITNESSES_FILE))?.problem
}

/** Every witness whose cosignatures this data directory's node verifies, keeps and passes on. */
export function knownWitnesses (chain: Chain): KnownWitness[] {
  const keys = fileWitnesses(chain.dir.root, chain.logger)
  const own = chain.index.getMeta(OWN_WITNESS_META)
  if (own === undefined) return keys
  // The same array while neither changes: callers cache what they derive from it by identity.
  const hit = withOwn.get(keys)
  if (hit?.own === own) return hit.keys
  const w = parseWitnessVkey(own)
  const all = typeof w === 'string' || keys.some(k => k.vkey === w.vkey) ? keys : [...keys, w]
  withOwn.set(keys, { own, keys: all })
  return all
}

const withOwn = new WeakMap<KnownWitness[], { own: string, keys: KnownWitness[] }>()
