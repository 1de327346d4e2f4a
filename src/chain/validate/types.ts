import type { BlockFile, QuorumRule } from '../../block/index.js'
import type { KeyState } from '../key-state.js'

/** Signature verdicts computed ahead of validation (verify's worker threads), with the key used. */
export interface Preverified {
  /** hex SPKI of the key the signatures were checked with */
  key: string
  prev: boolean
  seal: boolean
}

/** A block file that passed the checks that need nothing but the file itself. */
export interface Candidate {
  /** hex SHA-256 of the file */
  hash: string
  /** hex DER seal that came with the file */
  seal: string
  file: BlockFile
  /** Used by check-signatures only when `key` is the signer's key at the parent. */
  verified?: Preverified
}

/** An immutable view of the chain at a block's parent: all a contextual check may consult. */
export interface ParentContext {
  /** genesis hash */
  chainId: string
  parent: { hash: string, height: number, time: number }
  /** signatories after the parent */
  keys: KeyState
  quorumRule: QuorumRule
  /** Current time for the clock-skew check; undefined when re-verifying history. */
  now?: number
  maxFutureMs: number
}
