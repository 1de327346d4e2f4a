import { CryptoError, isKeyId, parsePublicKey, type PublicKey } from '../crypto/index.js'
import { fromHex, isRecord } from '../util/index.js'
import { BlockError } from './errors.js'
import { heldStatement } from './held-db.js'
import type { Db } from './sqlite.js'

export type KeyOp = 'A' | 'R'

/** One row of `_keys`: `signer` endorses adding (A) or revoking (R) `key`. */
export interface KeyOpRow {
  op: KeyOp
  /** key id of the target key (`pubkey_hash`) */
  keyId: string
  /** the target's public key (`pubkey`, hex SPKI) */
  publicKey: PublicKey
  /** key id of the endorsing signatory (`sigkey_hash`) */
  signer: string
  /** hex DER signature of the endorsement */
  signature: string
  metadata: Record<string, string> | null
}

interface RawRow { op: unknown, pubkey_hash: unknown, pubkey: unknown, sigkey_hash: unknown, signature: unknown, metadata: unknown }

const MAX_KEY_OPS = 10_000
const KEYS_SQL = `SELECT op, pubkey_hash, pubkey, sigkey_hash, signature, metadata FROM _keys ORDER BY pubkey_hash, sigkey_hash LIMIT ${MAX_KEY_OPS + 1}`

/** `v` as an object of strings, or undefined when it is not one. */
function stringRecord (v: unknown): Record<string, string> | undefined {
  if (!isRecord(v)) return undefined
  const out: Record<string, string> = {}
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') return undefined
    out[k] = x
  }
  return out
}

/** Read and shape-check every `_keys` row. Signatures and authority are checked by the chain. */
export function readKeyOps (db: Db): KeyOpRow[] {
  // The limit in the text, not bound: a bound value makes SQLite prepare the statement twice.
  const rows = heldStatement(db, KEYS_SQL, () => db.prepare<unknown[], RawRow>(KEYS_SQL)).all()
  if (rows.length > MAX_KEY_OPS) throw new BlockError('KEYOP_MALFORMED', `more than ${MAX_KEY_OPS} key operations in one block`)
  return rows.map((r, i) => parseKeyOpRow(r, i))
}

export function parseKeyOpRow (r: RawRow, index: number): KeyOpRow {
  const bad = (why: string): BlockError => new BlockError('KEYOP_MALFORMED', `_keys row ${index}: ${why}`, { details: { row: index } })
  if (r.op !== 'A' && r.op !== 'R') throw bad(`op must be 'A' or 'R', not ${JSON.stringify(r.op)}`)
  if (!isKeyId(r.pubkey_hash)) throw bad('pubkey_hash is not a key id')
  if (!isKeyId(r.sigkey_hash)) throw bad('sigkey_hash is not a key id')
  if (typeof r.pubkey !== 'string') throw bad('pubkey is not text')
  let publicKey: PublicKey
  try {
    publicKey = parsePublicKey(r.pubkey)
  } catch (err) {
    // One key, one id: another encoding of a signatory's point would be a second identity (a
    // revoked key back under an alias, one private key in two quorum seats).
    if (err instanceof CryptoError && err.code === 'PUBLIC_KEY_NOT_CANONICAL') {
      throw new BlockError('KEYOP_KEY_NOT_CANONICAL', `_keys row ${index}: pubkey is another encoding of key ${err.details.canonicalId}, not its canonical SPKI`, {
        details: { row: index }, hint: 'endorse the key in its canonical encoding (as `petal mykeys` prints it)'
      })
    }
    throw bad('pubkey is not a P-256 SPKI in hex')
  }
  if (publicKey.id !== r.pubkey_hash) throw bad('pubkey_hash does not match pubkey')
  if (typeof r.signature !== 'string' || r.signature === '' || fromHex(r.signature) === undefined) throw bad('signature is not lower-case hex')
  let metadata: Record<string, string> | null = null
  if (r.metadata !== null && r.metadata !== '') {
    if (typeof r.metadata !== 'string') throw bad('metadata is not text')
    let parsed: unknown
    try {
      parsed = JSON.parse(r.metadata)
    } catch {
      throw bad('metadata is not JSON')
    }
    const md = stringRecord(parsed)
    if (md === undefined) throw bad('metadata must be a JSON object of strings')
    metadata = md
  }
  return { op: r.op, keyId: r.pubkey_hash, publicKey, signer: r.sigkey_hash, signature: r.signature, metadata }
}
