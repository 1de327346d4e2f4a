import { closeSync } from 'node:fs'
import type { Chain } from '../chain/index.js'
import { chainParamsToJson, openDataFileSync } from '../storage/index.js'
import { headerOf, type PeerSigner, type WireHeader } from './wire.js'

/** An open block file ready to stream: the caller closes `fd`. */
export interface OpenBlock { fd: number, size: number, seal: string }

/**
 * What a node serves to its peers. Implemented over a Chain (`chainSource`); tests substitute
 * hostile sources to play a misbehaving peer.
 */
export interface BlockSource {
  readonly chainId: string
  chainParamsJson: () => string
  tip: () => WireHeader
  /** Canonical headers from height `from`, at most `count`. */
  headers: (from: number, count: number) => WireHeader[]
  /** Open a stored block (canonical or side branch) by hash, or undefined. */
  openBlock: (hash: string) => OpenBlock | undefined
  /**
   * The signed checkpoint notes to answer a `checkpoints` request with: kept ones of the current
   * chain, of tree size at most `maxSize`, each at most LIMITS.checkpoint bytes (none when absent);
   * a signatory's node may sign one of that size first (docs/proofs.md, "A size signed on request"),
   * and says why when it could not (`unsigned`).
   */
  checkpoints?: (maxSize: number) => CheckpointsAnswer | Promise<CheckpointsAnswer>
  /** Wait up to `ms` for a block this node is fetching right now; true if it arrived. */
  awaitBlock?: (hash: string, ms: number, signal: AbortSignal) => Promise<boolean>
  /**
   * The signing key this node holds, signed for its peer id (wire.ts peerKeyMessage), for its status
   * reply; null when it holds none. Absent: the reply says nothing (as a Petal before session 50).
   */
  signer?: (peerId: string) => PeerSigner | null
}

/** Serve a chain's index and block files. */
/** A `checkpoints` answer: the notes, or with the reason a size asked for was not signed. */
export type CheckpointsAnswer = string[] | { notes: string[], unsigned?: string, unsignedCode?: string }

export function chainSource (chain: Chain, awaitBlock?: BlockSource['awaitBlock'], checkpoints?: BlockSource['checkpoints'], signer?: BlockSource['signer']): BlockSource {
  return {
    chainId: chain.chainId,
    chainParamsJson: () => chainParamsToJson(chain.params),
    tip: () => headerOf(chain.tip()),
    headers: (from, count) => chain.index.range(from, from + count - 1, count).map(headerOf),
    openBlock: hash => {
      // Four columns, not byHash's record: this runs for every block served.
      const r = chain.index.storedFile(hash)
      if (r === undefined) return undefined
      const [height, canonical, seal, size] = r
      // Look up and open in one synchronous step: an in-process reorg moves files synchronously
      // too, so it cannot slip in between. The size check catches a cross-process move.
      let file: { fd: number, size: number }
      try {
        // Never a pipe or a link: opening a named pipe would stall this node's event loop.
        file = openDataFileSync(chain.fileAt(height, canonical === 1, hash), 'block file')
      } catch {
        return undefined
      }
      if (file.size !== size) {
        closeSync(file.fd)
        return undefined
      }
      return { fd: file.fd, size, seal }
    },
    awaitBlock,
    checkpoints,
    ...(signer === undefined ? {} : { signer })
  }
}
