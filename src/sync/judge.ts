import { verifySeal, type SealedFields } from '../block/index.js'
import type { Chain } from '../chain/index.js'
import type { Verdict, WireHeader } from '../network/index.js'

/**
 * The fields a wire header's seal signs, on chain `chainId`: a v2 block's seal names the chain,
 * except the genesis's (signed before the chain id, its own hash, exists), and v1 seals none.
 */
export function sealedFieldsOf (chainId: string, h: WireHeader): SealedFields {
  return { version: h.version, chainId: h.version === 2 && h.height > 0 ? chainId : '', height: h.height, rowsRoot: h.rowsRoot }
}

/**
 * Judge a header a peer claims (announcement or status tip) before fetching anything: its seal
 * must verify with the signer's key as this node knows it (at the parent if the parent is known,
 * else at the tip). 'reject' only when the seal is provably forged: a header signed by a key this
 * node does not know yet (added on a branch it lacks) is 'ignore'd, never blamed.
 */
export function judgeHeader (chain: Chain, h: WireHeader): Verdict {
  if (h.height === 0) return h.hash === chain.chainId ? 'accept' : 'reject'
  const known = chain.index.byHash(h.hash)
  if (known !== undefined && known.seal === h.seal && known.parent === h.parent && known.height === h.height &&
    known.signer === h.signer && known.rowsRoot === h.rowsRoot) return 'accept'
  // The hash commits to everything but the seal: a known hash with other fields is a forgery.
  if (known !== undefined && (known.parent !== h.parent || known.height !== h.height || known.signer !== h.signer || known.rowsRoot !== h.rowsRoot)) return 'reject'
  const parent = chain.index.byHash(h.parent)
  if (parent !== undefined && parent.height + 1 !== h.height) return 'reject'
  let signer
  try {
    signer = chain.keysAt(parent ?? chain.tip()).get(h.signer)
  } catch {
    return 'ignore'
  }
  if (signer === undefined) return 'ignore'
  return verifySeal(signer.publicKey, sealedFieldsOf(chain.chainId, h), h.hash, h.seal) ? 'accept' : 'reject'
}
