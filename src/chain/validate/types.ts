import type { BlockFile, QuorumRule, SealedFields } from '../../block/index.js'
import type { KeyState } from '../key-state.js'

/** Signature verdicts computed ahead of validation (verify's worker threads), with the key used. */
export interface Preverified {
  /** hex SPKI of the key the signatures were checked with */
  key: string
  prev: boolean
  seal: boolean
}

/**
 * A seal this process has already verified (the header feed checks a header's seal, when it
 * knows the signer's key, before its block is requested): `seal` verifies with `key` (hex SPKI) over `fields` and the block's
 * hash. A block's own seal check is skipped only when its seal, its key and its header's sealed
 * fields are these very ones (the hash is the block file's, checked against the header's).
 */
export interface SealVerdict {
  key: string
  seal: string
  fields: SealedFields
}

/**
 * What validation and the index take from a block file: plain verify's workers send only this
 * across threads (the SQLite header, the path and the empty user-table and recipient lists were
 * a third of each reply's structured clone, and nothing past the read uses them).
 */
export type CandidateFile = Pick<BlockFile, 'size' | 'header' | 'keyOps' | 'tables'>

/** A block file that passed the checks that need nothing but the file itself. */
export interface Candidate {
  /** hex SHA-256 of the file */
  hash: string
  /** hex DER seal that came with the file */
  seal: string
  file: CandidateFile
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
