import { statSync } from 'node:fs'
import { join } from 'node:path'
import { errorMessage, isRecord, shellWord, writeFileAtomic } from '../util/index.js'
import { ProofError } from './errors.js'
import { readWitnessRecord } from './witness-record-file.js'

// The record of `petal witnesses reset` outside chain.db (docs/proofs.md, "A witness whose chain
// left what it cosigned"). chain.db is derived and rebuildable: a witness whose chain.db was
// removed and rebuilt by `petal reindex`, or put back from a backup older than the reset, forgot
// that its old key is retired, and could cosign the chain's new history with it: one key vouching
// for two histories (until session 56). So each reset is also written here, a file of the data
// directory that reindex never touches, written whole (temporary, fsync, rename, directory fsync).

export const WITNESS_RESETS_FILE = 'witness-resets.json'

/** One `petal witnesses reset`, as kept in chain.db's meta and in witness-resets.json. */
export interface WitnessReset {
  /** when (RFC 3339) */
  at: string
  /** the tree the retired key last cosigned, which this chain no longer contains */
  abandoned: { size: number, root: string }
  /** this node's tip when the operator reset it */
  tip: { height: number, hash: string }
  /** the verifier key that cosigned it, retired (null: an earlier Petal recorded none) */
  retired: string | null
  /** its SPKI in hex: the key that cosigns no more, under any name */
  retired_key: string | null
  /** the key id the operator named to cosign from now on */
  next_key: string
  /** the stored notes of that tree with the old key's cosignature, then the other cosigned notes of trees this chain left, as kept: what retired keys stated */
  notes: string[]
}

const path = (root: string): string => join(root, WITNESS_RESETS_FILE)

function invalid (file: string, why: string): ProofError {
  return new ProofError('PROOF_WITNESS_RESETS_INVALID', `${file} (the record of \`petal witnesses reset\`) cannot be read: ${why}`, {
    hint: `a witness cosigns nothing while it cannot tell which keys are retired: put back the file from a backup, or move it aside (\`mv ${shellWord(file)} ${shellWord(`${file}.bad`)}\`) and run no key it retired as a witness again (\`petal witnesses list\` shows the resets chain.db still records, and the next cosigning writes those to the file again)`
  })
}

/**
 * An intact record this user may not read: a `sudo petal witnesses reset` under umask 077 leaves it
 * root's, 0600, and a witness run as another user stops cosigning. invalid()'s hint, to move it
 * aside, would forget the keys it retires where chain.db has been rebuilt (review56b).
 */
function unreadable (file: string, err: unknown): ProofError {
  const other = statSync(file, { throwIfNoEntry: false })?.uid !== process.getuid?.()
  return new ProofError('PROOF_WITNESS_RESETS_INVALID', `${file} (the record of \`petal witnesses reset\`) cannot be read: this user may not read it${other ? ' (another user\'s command wrote it)' : ''} (${errorMessage(err)})`, {
    hint: `a witness cosigns nothing while it cannot tell which keys are retired; the record is intact, keep it: ${other ? 'as its owner or root, let others read it' : 'let this user read it'}: \`chmod a+r ${shellWord(file)}\` (it holds public keys and signed notes only; \`ls -l ${shellWord(file)}\` shows its owner and mode)`
  })
}

/** The resets witness-resets.json records, oldest first ([] when there is none). */
export function readResetsFile (root: string): WitnessReset[] {
  const file = path(root)
  const a = readWitnessRecord(file, { invalid, unreadable })
  if (a === undefined) return []
  if (!Array.isArray(a) || !a.every(r => isRecord(r) && typeof r.next_key === 'string' && Array.isArray(r.notes))) throw invalid(file, 'not a list of resets')
  return a as WitnessReset[]
}

/** Write `resets` (the whole record) to witness-resets.json, crash-safely. */
export function writeResetsFile (root: string, resets: readonly WitnessReset[]): void {
  writeFileAtomic(path(root), `${JSON.stringify(resets, null, 1)}\n`)
}

/** The same reset, recorded twice (a crash between the file's write and chain.db's commit, then a second reset). */
const sameReset = (a: WitnessReset, b: WitnessReset): boolean =>
  a.at === b.at && a.next_key === b.next_key && a.abandoned?.root === b.abandoned?.root

/** `a`'s resets, then those of `b` that `a` lacks. */
export function unionResets (a: readonly WitnessReset[], b: readonly WitnessReset[]): WitnessReset[] {
  return [...a, ...b.filter(r => !a.some(x => sameReset(x, r)))]
}
