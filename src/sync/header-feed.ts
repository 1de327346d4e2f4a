import { verifySeal } from '../block/index.js'
import type { Chain, KeyState, SealVerdict } from '../chain/index.js'
import { LIMITS } from '../network/core.js'
import type { WireHeader } from '../network/index.js'
import { SyncError } from './errors.js'
import { sealedFieldsOf } from './judge.js'
import type { SyncNetwork } from './types.js'

export interface Anchor { height: number, hash: string }

/**
 * Find the highest block of `peer`'s canonical chain that this node also has, walking back from
 * min(local tip, peer tip) in windows. Forks deeper than max_reorg_depth below the local tip are
 * not looked for: they could not be adopted anyway. Returns the anchor and the peer's headers
 * above it that came with the search.
 */
export async function findAncestor (chain: Chain, net: SyncNetwork, peer: string, peerTip: WireHeader, signal: AbortSignal): Promise<{ anchor: Anchor, above: WireHeader[] }> {
  const local = chain.tip()
  const floor = Math.max(0, local.height - chain.params.maxReorgDepth)
  let hi = Math.min(local.height, peerTip.height - 1)
  let window = 16
  while (hi >= floor) {
    const from = Math.max(floor, hi - window + 1)
    const hs = await net.headers(peer, from, hi - from + 1, signal)
    if (hs.length === 0) throw new SyncError('HEADERS_INCONSISTENT', 'peer sent no headers below the tip it claims', { details: { peer } })
    for (const [i, h] of [...hs.entries()].reverse()) {
      const mine = chain.index.byHash(h.hash)
      if (mine !== undefined) return { anchor: { height: mine.height, hash: mine.hash }, above: hs.slice(i + 1) }
    }
    hi = from - 1
    window = Math.min(window * 4, LIMITS.maxHeaders)
  }
  throw new SyncError('FORK_TOO_DEEP', `peer's branch leaves ours more than max_reorg_depth (${chain.params.maxReorgDepth}) blocks below the tip`, { details: { peer } })
}

/**
 * The peer's headers above an anchor, in height order, fetched in batches as the download
 * window advances (so a 10,000-block catch-up never holds more than two batches). Each batch
 * must continue from the previous one; seals signed by keys this node knows are checked.
 */
export class HeaderFeed {
  private buf: WireHeader[]
  private last: Anchor
  private ended = false
  private readonly keys: KeyState
  /** The headers whose seals were verified here, with the verdict (the block's checks reuse it). */
  private readonly checked = new WeakMap<WireHeader, SealVerdict>()

  constructor (private readonly chain: Chain, private readonly net: SyncNetwork, readonly peer: string, anchor: Anchor,
    private readonly endHeight: number, initial: WireHeader[] = []) {
    this.last = anchor
    this.buf = []
    this.keys = chain.keysAt(chain.index.byHash(anchor.hash) ?? chain.tip())
    this.accept(initial)
  }

  /** The next header, or undefined when the peer's chain ends (at endHeight or earlier). */
  async take (signal: AbortSignal): Promise<WireHeader | undefined> {
    if (this.buf.length === 0 && !this.ended && this.last.height < this.endHeight) {
      const from = this.last.height + 1
      const hs = await this.net.headers(this.peer, from, Math.min(LIMITS.maxHeaders, this.endHeight - this.last.height), signal)
      if (hs.length === 0) this.ended = true
      else this.accept(hs)
    }
    return this.buf.shift()
  }

  sealChecked (h: WireHeader): SealVerdict | undefined { return this.checked.get(h) }

  private accept (hs: WireHeader[]): void {
    const first = hs[0]
    if (first === undefined) return
    // The peer's chain moved under us (it reorganised): stop here, the syncer will look again.
    if (first.parent !== this.last.hash || first.height !== this.last.height + 1) { this.ended = true; return }
    for (const h of hs) {
      const signer = this.keys.get(h.signer)
      if (signer !== undefined) {
        const fields = sealedFieldsOf(this.chain.chainId, h)
        if (!verifySeal(signer.publicKey, fields, h.hash, h.seal)) {
          this.net.report(this.peer, 'bad-seal', 'headers reply')
          throw new SyncError('HEADERS_INCONSISTENT', 'peer sent a header with a forged seal', { details: { peer: this.peer, height: h.height } })
        }
        this.checked.set(h, { key: signer.publicKey.hex, seal: h.seal, fields })
      }
      if (h.height > this.endHeight) { this.ended = true; break }
      this.buf.push(h)
      this.last = { height: h.height, hash: h.hash }
    }
  }
}

/**
 * The highest header of `peer`'s chain towards `claim` (a tip signed by a key this node does not
 * know) that this node can check: of the peer's headers above the common ancestor, the last of
 * the first run signed by keys known at the ancestor (the feed checks their seals). A key added
 * on the peer's branch becomes known once the block adding it is imported, so a legitimate chain
 * is reached step by step; a made-up claim with nothing checkable under it is no target at all.
 */
export async function verifiedClaim (chain: Chain, net: SyncNetwork, peer: string, claim: WireHeader, signal: AbortSignal): Promise<WireHeader | undefined> {
  // On a known parent, an unknown signer is simply not authorised: the block is invalid.
  if (chain.index.byHash(claim.parent) !== undefined) return undefined
  const { anchor, above } = await findAncestor(chain, net, peer, claim, signal)
  const feed = new HeaderFeed(chain, net, peer, anchor, claim.height, above)
  const keys = chain.keysAt(chain.index.byHash(anchor.hash) ?? chain.tip())
  let best: WireHeader | undefined
  for (let n = 0; n < LIMITS.maxHeaders; n++) {
    const h = await feed.take(signal)
    if (h === undefined || keys.get(h.signer) === undefined) break
    best = h
  }
  return best
}
