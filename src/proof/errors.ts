import { PetalError } from '../util/index.js'

export type ProofErrorCode =
  /** a row, table or block asked for is not there */
  | 'PROOF_ROW_NOT_FOUND'
  | 'PROOF_TABLE_NOT_FOUND'
  /** the chain tree's node store lacks a node a proof needs (tree smaller than asked) */
  | 'PROOF_NODE_MISSING'
  /** the node store, the checkpoint and the block disagree: building would give an unsound proof */
  | 'PROOF_TREE_MISMATCH'
  | 'PROOF_CHECKPOINT_MISMATCH'
  /** verify-proof: the proof is not sound under the given trust (details.reason says why) */
  | 'PROOF_REJECTED'
  /** verify-proof: a proof or trust file that cannot be read or understood */
  | 'PROOF_FILE_INVALID'

export class ProofError extends PetalError<ProofErrorCode> {}
