import { existsSync, statSync } from 'node:fs'
import type { Chain } from '../chain/index.js'
import { parsePublicKey, privateKeyToPkcs8, type PublicKey } from '../crypto/index.js'
import { QueryError, type ConfidentialNote, type DecryptRequest } from '../query/index.js'
import { openSqliteReadonly, StorageError, type SqliteDb } from '../storage/index.js'
import { errorMessage, hintWithDir, isPetalError } from '../util/index.js'
import type { CliContext } from './context.js'
import { readInputFile } from './input.js'
import { short, UsageError } from './output.js'

/**
 * The keys that decrypt columns here: every encryption key of the keystore (docs/confidential.md).
 * An encrypted one without a passphrase is left out, and said so.
 */
export function decryptKeys (ctx: CliContext): DecryptRequest {
  const { keys, locked, damaged } = ctx.keystore().loadEncryptionKeys(ctx.passphrase())
  for (const err of damaged) ctx.io.stderr(`petal: note: ${err.message} [${err.code}]: left out; columns only its key opens stay encrypted\n  hint: ${err.hint ?? ''}\n`)
  for (const id of locked) ctx.io.stderr(`petal: note: encryption key ${short(id)} is passphrase-protected and no passphrase was given: its columns stay encrypted (give --passphrase-file or PETAL_PASSPHRASE)\n`)
  return { keys: keys.map(privateKeyToPkcs8) }
}

/** Say, on stderr even with --json, which encrypted columns stayed ciphertext and why. */
export function printConfidentialNotes (ctx: CliContext, notes: readonly ConfidentialNote[] | undefined): void {
  for (const n of notes ?? []) {
    if (n.off === true) {
      ctx.io.stderr(`petal: note: ${n.table}.${n.column} is encrypted in ${n.blocks} block(s); shown as ciphertext (--no-decrypt)\n`)
    } else if (n.locked > 0) {
      ctx.io.stderr(`petal: note: ${n.table}.${n.column} is encrypted in ${n.blocks} block(s), ${n.locked} of them for recipients whose keys this node does not hold: those values are shown as ciphertext BLOBs\n`)
      ctx.io.stderr(`  hint: ${hintWithDir('a recipient reads them with its encryption key in its keystore (`petal keys import FILE --purpose encrypt`)', ctx.opts.dir)}\n`)
    }
  }
}

/**
 * A recipient given on the command line: a public key file as `petal keys export` writes it, an
 * encryption key of the keystore (id or unique prefix), or a recipient the chain already names.
 */
export async function resolveRecipient (ctx: CliContext, chain: Chain, spec: string): Promise<PublicKey> {
  if (existsSync(spec) && statSync(spec).isFile()) {
    return parsePublicKey((await readInputFile(spec, 'public key file', ctx.signal, 64 * 1024)).toString('utf8'))
  }
  try {
    return ctx.keystore().resolve(spec, 'encrypt').publicKey
  } catch (err) {
    if (!(err instanceof StorageError) || (err.code !== 'KEY_NOT_FOUND' && err.code !== 'NO_KEYS')) throw err
  }
  const want = spec.startsWith('1:') ? spec : `1:${spec}`
  const known = mirroredRecipients(chain.dir.queryDb, want)
  const ids = new Set(known.map(k => k.recipient))
  const first = known[0]
  if (first !== undefined && ids.size === 1) return parsePublicKey(first.pubkey)
  throw new UsageError(ids.size > 1 ? `recipient ${spec} matches ${ids.size} keys` : `no recipient ${spec}: not a public key file, not an encryption key of the keystore, not a recipient the chain names`,
    'give the public key file the recipient sent (`petal keys export ID -o FILE` on their node), or a full key id')
}

/**
 * The recipients the query mirror names whose id starts with `prefix`. No mirror yet, or one of a
 * layout before `_recipients`: none known. A mirror that is there but cannot be read is not "none"
 * (the user would be told their recipient does not exist): WRITE_INTERRUPTED and other coded
 * errors pass on with their hints, SQLite's own (a damaged file) as MIRROR_UNAVAILABLE.
 */
function mirroredRecipients (path: string, prefix: string): Array<{ recipient: string, pubkey: string }> {
  if (!existsSync(path)) return []
  let db: SqliteDb | undefined
  try {
    db = openSqliteReadonly(path)
    if (db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_recipients'").get() === undefined) return []
    return db.prepare<unknown[], { recipient: string, pubkey: string }>('SELECT DISTINCT recipient, pubkey FROM _recipients WHERE substr(recipient, 1, ?) = ?').all(prefix.length, prefix)
  } catch (err) {
    if (isPetalError(err)) throw err
    throw new QueryError('MIRROR_UNAVAILABLE', `cannot read the recipients of the query mirror ${path}: ${errorMessage(err)}`, { hint: 'rebuild it with `petal reindex --query`, then run the command again' })
  } finally {
    db?.close()
  }
}
