import { statSync } from 'node:fs'
import { join } from 'node:path'
import type { PublicKey } from '../crypto/index.js'
import { errorMessage, fromHex, isRecord, shellWord, writeFileAtomic } from '../util/index.js'
import { ProofError } from './errors.js'
import { readWitnessRecord } from './witness-record-file.js'

// The last tree each witness key cosigned, outside chain.db (docs/proofs.md, "The last cosigned
// tree outlives chain.db"). A witness cosigns only a checkpoint that extends the last one it
// cosigned; chain.db's meta `witness_last_cosigned` held that alone, and chain.db is derived: removed
// and rebuilt by `petal reindex`, or put back from an older backup, it forgot it (or named an older
// one), and the witness could cosign, with the same key, a tree inconsistent with one it had
// cosigned (until session 56). So each cosignature is first written here, whole (temporary, fsync,
// rename, directory fsync), before the note is signed, stored or gossiped; nothing derives,
// rebuilds or lowers this file.

export const WITNESS_COSIGNED_FILE = 'witness-cosigned.json'

/** The last tree one witness key cosigned. */
export interface CosignedTree {
  /** the key's SPKI in hex */
  key: string
  /** its verifier key then (the witness name it cosigned under) */
  vkey: string
  size: number
  /** the tree's root, hex */
  root: string
  /** when (RFC 3339) */
  at: string
}

const path = (root: string): string => join(root, WITNESS_COSIGNED_FILE)

function invalid (file: string, why: string): ProofError {
  return new ProofError('PROOF_WITNESS_COSIGNED_INVALID', `${file} (the last tree each witness key cosigned) cannot be read: ${why}`, {
    hint: `a witness cosigns nothing while it cannot tell what its key cosigned: put back the file from a backup, or move it aside (\`mv ${shellWord(file)} ${shellWord(`${file}.bad`)}\`): the witness then extends only chain.db's record, which a chain.db rebuilt since its last cosignature lacks; when unsure, make a new key (\`petal keygen\`) and run the witness with --key NEWID`
  })
}

/** An intact record this user may not read (a `sudo petal run --witness` under umask 077): moving it aside would forget it. */
function unreadable (file: string, err: unknown): ProofError {
  const other = statSync(file, { throwIfNoEntry: false })?.uid !== process.getuid?.()
  return new ProofError('PROOF_WITNESS_COSIGNED_INVALID', `${file} (the last tree each witness key cosigned) cannot be read: this user may not read it${other ? ' (another user\'s command wrote it)' : ''} (${errorMessage(err)})`, {
    hint: `a witness cosigns nothing while it cannot tell what its key cosigned; the record is intact, keep it: ${other ? 'as its owner or root, let others read it' : 'let this user read it'}: \`chmod a+r ${shellWord(file)}\` (it holds public keys, sizes and roots only; \`ls -l ${shellWord(file)}\` shows its owner and mode)`
  })
}

const wellFormed = (r: unknown): r is CosignedTree => isRecord(r) && typeof r.key === 'string' && typeof r.vkey === 'string' &&
  Number.isSafeInteger(r.size) && (r.size as number) >= 1 && typeof r.root === 'string' && /^[0-9a-f]{64}$/.test(r.root)

/** Every key's last cosigned tree ([] when there is no file). PROOF_WITNESS_COSIGNED_INVALID when it cannot be read. */
export function readCosignedFile (dir: string): CosignedTree[] {
  const file = path(dir)
  const a = readWitnessRecord(file, { invalid, unreadable })
  if (a === undefined) return []
  if (!Array.isArray(a) || !a.every(wellFormed)) throw invalid(file, 'not a list of cosigned trees')
  return a
}

/** The last tree `key` cosigned, as the file records it. */
export function cosignedBy (records: readonly CosignedTree[], key: PublicKey): { size: number, root: Uint8Array } | undefined {
  const r = records.find(x => x.key === key.hex)
  const root = r === undefined ? undefined : fromHex(r.root)
  return r === undefined || root === undefined ? undefined : { size: r.size, root }
}

/**
 * Record, crash-safely, that `key` cosigns the tree of `size` and `root`: called before the
 * cosignature exists anywhere else. Never lowers a key's record (the caller cosigns only larger trees).
 */
export function recordCosigned (dir: string, records: readonly CosignedTree[], next: CosignedTree): void {
  const old = records.find(x => x.key === next.key)
  if (old !== undefined && old.size >= next.size) return
  writeFileAtomic(path(dir), `${JSON.stringify([...records.filter(x => x.key !== next.key), next], null, 1)}\n`)
}
