import { BlockError, GENESIS_PREVIOUS_HASH, verifyKeyOp, verifyPrevious, verifySeal } from '../../block/index.js'
import type { KeyOpRecord } from '../../storage/index.js'
import { groupByKey } from './check-keyops.js'
import type { Candidate } from './types.js'

/**
 * A genesis block: v2, height 0, the genesis previous-hash constant, consensus parameters, and a
 * `_keys` that only adds keys, every endorsement by the creator (signed with an empty ChainId),
 * the creator among the added keys; both block signatures by the creator.
 */
export function checkGenesis (c: Candidate, expectedHash?: string): KeyOpRecord[] {
  const h = c.file.header
  const bad = (why: string): BlockError => new BlockError('BAD_GENESIS', `invalid genesis block: ${why}`)
  if (expectedHash !== undefined && c.hash !== expectedHash) {
    throw new BlockError('HASH_MISMATCH', `genesis hashes to ${c.hash}, the chain's genesis is ${expectedHash}`, { details: { hash: c.hash, expected: expectedHash } })
  }
  if (h.version !== 2 || h.height !== 0 || h.genesis === undefined || h.previousHash !== GENESIS_PREVIOUS_HASH) throw bad('not a v2 genesis (height 0 with consensus parameters)')
  const creatorRow = c.file.keyOps.find(r => r.keyId === h.creator)
  if (creatorRow === undefined) throw bad('the creator key is not added by its own _keys')
  const creator = creatorRow.publicKey
  const ops: KeyOpRecord[] = []
  for (const [keyId, rows] of groupByKey(c.file.keyOps)) {
    for (const r of rows) {
      if (r.op !== 'A') throw bad('a genesis can only add keys')
      if (r.signer !== h.creator) throw bad(`endorsement of ${keyId} is not by the creator`)
      if (!verifyKeyOp(creator, '', r, 2)) throw new BlockError('KEYOP_BAD_SIGNATURE', `genesis endorsement of ${keyId} does not verify`, { details: { height: 0, key: keyId, signer: r.signer } })
    }
    ops.push({ keyId, op: 'A', pubkey: rows[0].publicKey.hex, signers: [h.creator] })
  }
  if (!verifyPrevious(creator, h)) throw new BlockError('BAD_PREV_SIGNATURE', 'genesis PreviousBlockHashSignature does not verify', { details: { height: 0 } })
  if (!verifySeal(creator, h, c.hash, c.seal)) throw new BlockError('BAD_SEAL', 'genesis seal does not verify', { details: { height: 0, hash: c.hash } })
  return ops
}
