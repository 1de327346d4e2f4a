import { verifyV2, type PublicKey } from '../crypto/index.js'
import { fromHex, type Logger } from '../util/index.js'
import { peerKeyMessage, type PeerSigner } from './wire.js'

/**
 * The signing key each peer shows in its status reply (docs/protocol.md "status"), checked: its
 * signature of the peer's own id (authenticated by the connection) under a key the chain knows. A
 * key cannot be claimed by another peer, whose id differs. One check per peer and signature.
 */
export class PeerSigners {
  private readonly checked = new Map<string, string>()
  /** The last claim of each peer whose key this node's chain did not know then (judgeAgain). */
  private readonly unknown = new Map<string, PeerSigner>()

  constructor (
    private readonly chainId: string,
    private readonly keyOf: (keyId: string) => PublicKey | undefined,
    private readonly logger: Logger
  ) {}

  /**
   * What `peer`'s status says of its key: the key id, checked; null when it holds none; undefined
   * when it says nothing (a Petal before session 50), names a key this node's chain does not know
   * (it may lack the block that adds it: a pull asks before it has the blocks, and a key added after
   * the genesis would have made the peer "no signatory's node" in peers.json), or its signature does
   * not verify (then it is logged and not believed).
   */
  judge (peer: string, s: PeerSigner | null | undefined): string | null | undefined {
    if (s === undefined || s === null) { this.unknown.delete(peer); return s }
    const pub = this.keyOf(s.key)
    if (pub === undefined) {
      if (this.unknown.size >= 1024) this.unknown.clear()
      this.unknown.set(peer, s)
      return undefined
    }
    this.unknown.delete(peer)
    if (this.checked.get(peer) === `${s.key} ${s.sig}`) return s.key
    const der = fromHex(s.sig)
    if (der === undefined || !verifyV2(pub, peerKeyMessage(this.chainId, peer), der)) {
      this.logger.warn('a peer claims a signing key its status does not prove', { peer, key: s.key })
      return undefined
    }
    if (this.checked.size >= 1024) this.checked.clear()
    this.checked.set(peer, `${s.key} ${s.sig}`)
    return s.key
  }

  /**
   * The claims of keys this node's chain did not know when they came, judged again now: a pull
   * asks each peer's status before it has the blocks, so the node of a key added after the genesis
   * was left unknown (Network.stop asks this before peers.json's last save). The peers whose key
   * is proved now, with it.
   */
  judgeAgain (): Array<{ peer: string, signer: string }> {
    const out: Array<{ peer: string, signer: string }> = []
    for (const [peer, s] of [...this.unknown]) {
      if (this.keyOf(s.key) === undefined) continue
      const signer = this.judge(peer, s)
      if (typeof signer === 'string') out.push({ peer, signer })
    }
    return out
  }

  forget (peer: string): void {
    this.checked.delete(peer)
  }
}
