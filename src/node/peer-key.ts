import type { Chain } from '../chain/index.js'
import { signV2, type PublicKey, type SigningKey } from '../crypto/index.js'
import { toHex } from '../util/index.js'
import { peerKeyMessage, type PeerSigner } from '../network/index.js'

/**
 * What a node's status reply says of its signing key (docs/protocol.md "status"): the key, and its
 * signature of the node's own peer id (signed once), or null when the node holds no key. A reader
 * that met the node can then tell for certain whether it met a signatory's node (docs/proofs.md,
 * "When there is no checkpoint").
 */
export function statusSigner (chain: Chain, key: SigningKey | undefined): (peerId: string) => PeerSigner | null {
  let signed: { peerId: string, signer: PeerSigner } | undefined
  return peerId => {
    if (key === undefined) return null
    if (signed?.peerId !== peerId) signed = { peerId, signer: { key: key.id, sig: toHex(signV2(key, peerKeyMessage(chain.chainId, peerId))) } }
    return signed.signer
  }
}

/** A key of the chain's signatory set at the tip (active or revoked), by key id. */
export function chainKeyOf (chain: Chain): (keyId: string) => PublicKey | undefined {
  return keyId => chain.keysAt(chain.tip()).get(keyId)?.publicKey
}
