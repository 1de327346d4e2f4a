import { readBlockFile } from '../block/index.js'
import type { SigningKey } from '../crypto/index.js'
import type { LockOptions } from '../storage/index.js'
import type { ImportResult } from './accept.js'
import type { Chain } from './chain.js'
import { ChainError } from './errors.js'
import { groupByKey } from './validate/check-keyops.js'
import { quorumFor } from './quorum.js'
import { signImport, type SignImportOptions } from './sign-import.js'
import type { KeyState } from './key-state.js'
import { parseResealMark, resealDescription } from './reseal-mark.js'

export interface ResealOptions extends LockOptions, Pick<SignImportOptions, 'beforeAccept'> {
  /**
   * The origin of the orphan's content (the block first published with it) as the caller's record
   * knows it; the orphan's own mark, when it has one, is used instead, and without either it is
   * the orphan itself. `false`: the block is no copy but a publication of its own (`reseal --force`),
   * and carries no mark.
   */
  origin?: string | false
}

/** The key set and quorum a re-seal on the current tip is held to. */
export function resealKeys (chain: Chain): { keys: KeyState, q: number } {
  const tip = chain.tip()
  const keys = chain.keysAt(tip)
  return { keys, q: quorumFor(chain.params.quorumRule, tip.height + 1, keys.activeCount) }
}

/**
 * Whether an orphan's key operation (`op` on `keyId`, endorsed by `signers`) is carried by its
 * re-seal: it still applies on the tip (an added key is unknown there, a revoked one active) and
 * enough of its endorsers are active there. Once carried, it no longer applies.
 */
export function keyOpCarries (onTip: { keys: KeyState, q: number }, op: 'A' | 'R', keyId: string, signers: readonly string[]): boolean {
  const target = onTip.keys.get(keyId)
  const applies = op === 'A' ? target === undefined : target !== undefined && target.revokedAt === null
  return applies && signers.filter(s => onTip.keys.isActive(s)).length >= onTip.q
}

/**
 * Re-seal the content of an orphaned block (one this key signed that lost a fork) on the current
 * tip, so nothing its signatory published is lost. User tables are kept as they were; key
 * operations are kept only where they still apply on the new chain and still reach the quorum.
 * `beforeAccept`: a check or a write under the write lock (signImport's), such as `petal reseal`'s
 * judgement that the orphan's content is not already back on the chain, and the record of which
 * orphan the block re-seals (the node's and `petal reseal`'s). The block names the origin of its
 * content in its Description (reseal-mark.ts), so that every node sees it is a copy.
 */
export async function resealOrphan (chain: Chain, orphanHash: string, key: SigningKey, options: ResealOptions = {}): Promise<ImportResult> {
  const orphan = chain.index.byHash(orphanHash)
  if (orphan === undefined) throw new ChainError('BLOCK_NOT_FOUND', `no block ${orphanHash}`)
  if (orphan.canonical) throw new ChainError('NOT_ORPHANED', `block ${orphanHash} is on the canonical chain`)
  if (orphan.signer !== key.id) throw new ChainError('NOT_ORPHANED', `block ${orphanHash} was signed by ${orphan.signer}, not by ${key.id}`)
  const path = chain.pathOf(orphan)
  const file = await readBlockFile(path, { maxBytes: chain.params.maxBlockBytes, checkManifest: false, signal: options.signal })
  const onTip = resealKeys(chain)
  const keyOps = groupByKey(file.keyOps).flatMap(([keyId, rows]) => {
    const op = rows[0]?.op
    if (op !== undefined && keyOpCarries(onTip, op, keyId, rows.map(r => r.signer))) return rows.filter(r => onTip.keys.isActive(r.signer))
    chain.logger.info('dropping key operation that no longer applies after the reorg', { key: keyId })
    return []
  })
  const { origin, ...rest } = options
  const description = origin === false ? undefined : resealDescription(parseResealMark(file.header.description) ?? origin ?? orphanHash)
  const result = await signImport(chain, path, key, { work: `reseal ${orphanHash.slice(0, 12)}`, ...rest, keyOps, replaceKeyOps: true, description })
  chain.logger.info('re-sealed orphaned block on the new tip', { orphan: orphanHash, height: result.block.height, hash: result.block.hash })
  return result
}
