import { MAX_CONCURRENT_UPLOADS, MAX_UPLOADS_PER_PEER } from '../constants.js'
import { uploadHeap } from '../upload-heap.js'

/** Uploads in progress, shared by `block` and `blocks` (a range takes one slot for all its blocks). */
export class Uploads {
  private all = 0
  private readonly perPeer = new Map<string, number>()

  /** Take a slot for `peer`, or false when the node or that peer is at its limit. */
  take (peer: string): boolean {
    if (this.all >= MAX_CONCURRENT_UPLOADS || (this.perPeer.get(peer) ?? 0) >= MAX_UPLOADS_PER_PEER) return false
    this.all++
    this.perPeer.set(peer, (this.perPeer.get(peer) ?? 0) + 1)
    uploadHeap.enter() // V8's old generation may grow while blocks are served (upload-heap.ts)
    return true
  }

  release (peer: string): void {
    uploadHeap.leave()
    this.all--
    const n = (this.perPeer.get(peer) ?? 1) - 1
    if (n <= 0) this.perPeer.delete(peer)
    else this.perPeer.set(peer, n)
  }
}
