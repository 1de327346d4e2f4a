import { BlockError, signKeyOp, parseKeyOpRow, type KeyOp, type KeyOpRow } from '../block/index.js'
import type { PublicKey, SigningKey } from '../crypto/index.js'
import { isRecord, parseJson } from '../util/index.js'

/**
 * An endorsement file (`petal signkey` output): one signatory's signed statement that a key be
 * added to or revoked from one chain. A signatory collects Q of them and includes them in a block
 * with `signimportblock --keyops`.
 */
export interface Endorsement {
  petal_endorsement: 1
  chain_id: string
  op: KeyOp
  pubkey_hash: string
  pubkey: string
  sigkey_hash: string
  signature: string
  metadata: Record<string, string> | null
}

export function createEndorsement (signer: SigningKey, chainId: string, op: KeyOp, target: PublicKey, metadata: Record<string, string> | null = null): Endorsement {
  const r = signKeyOp(signer, chainId, op, target, metadata)
  return { petal_endorsement: 1, chain_id: chainId, op, pubkey_hash: r.keyId, pubkey: r.publicKey.hex, sigkey_hash: r.signer, signature: r.signature, metadata }
}

/** Parse an endorsement file for `chainId`; the signature itself is checked when the block is validated. */
export function parseEndorsement (text: string, chainId: string, source = 'endorsement'): KeyOpRow {
  let j: unknown
  try {
    j = parseJson(text)
  } catch {
    throw new BlockError('KEYOP_MALFORMED', `${source} is not JSON`, { hint: 'give the file written by `petal signkey`' })
  }
  if (!isRecord(j) || j.petal_endorsement !== 1) throw new BlockError('KEYOP_MALFORMED', `${source} is not a Petal endorsement`, { hint: 'give the file written by `petal signkey`' })
  if (j.chain_id !== chainId) {
    throw new BlockError('CHAIN_ID_MISMATCH', `${source} endorses a key on chain ${String(j.chain_id)}, not on this chain`, { hint: 'the endorsement must be made with `petal signkey` on this chain', details: { chainId: String(j.chain_id) } })
  }
  return parseKeyOpRow({
    op: j.op, pubkey_hash: j.pubkey_hash, pubkey: j.pubkey, sigkey_hash: j.sigkey_hash, signature: j.signature,
    metadata: j.metadata === null || j.metadata === undefined ? null : JSON.stringify(j.metadata)
  }, 0)
}
