import { PetalError, registerErrorClass, type CodeDoc } from '../util/index.js'

export const CHAIN_ERROR_CODES = [
  'GENESIS_MISMATCH',
  'BLOCK_NOT_FOUND',
  'NOT_ORPHANED',
  'ORPHAN_CONTENT_BACK',
  'VERIFY_FAILED',
  'EMPTY_CHAIN'
] as const

export type ChainErrorCode = typeof CHAIN_ERROR_CODES[number]

type None = Record<never, never>

/** `details` of each code. */
export interface ChainErrorDetails {
  GENESIS_MISMATCH: None
  BLOCK_NOT_FOUND: None
  NOT_ORPHANED: None
  /** `hash`: the orphan */
  ORPHAN_CONTENT_BACK: { hash: string }
  /** `height`: the first block that failed, when known */
  VERIFY_FAILED: { height?: number }
  EMPTY_CHAIN: None
}

/** The chain as a whole (not one block) cannot do what was asked. */
export class ChainError<C extends ChainErrorCode = ChainErrorCode> extends PetalError<C, ChainErrorDetails[C]> {
  static readonly codes = CHAIN_ERROR_CODES
}

function chainErrorDocs (): Readonly<Record<ChainErrorCode, CodeDoc>> {
  return {
    GENESIS_MISMATCH: { meaning: 'a genesis, chain parameters, index or peer belong to another chain than the one expected', hint: 'check the address, the --genesis hash, or that chainparams.json belongs to this directory' },
    BLOCK_NOT_FOUND: { meaning: 'no block matches the height or hash given', hint: 'give a height, a full hash, or at least 8 hex digits of one' },
    NOT_ORPHANED: { meaning: '`reseal` was given a block that is canonical, or that another key signed', hint: 'only a block of yours that a reorg took off the chain can be resealed: `petal orphans` lists yours and which of them await a re-seal; a running node re-seals its own by itself' },
    ORPHAN_CONTENT_BACK: { meaning: '`reseal` was given an orphan whose content is already on the canonical chain (re-sealed by a node, or back with a reorg), or that carries nothing the chain lacks: re-sealing it would put its rows there twice', hint: 'nothing is lost, so nothing needs doing (`petal orphans` says where it is); `petal reseal HASH --force` seals its content again anyway' },
    VERIFY_FAILED: { meaning: 'verification found a block file, seal or index row that disagrees with the chain', hint: 'put damaged or missing block files back with `petal verify --repair` (from known peers, `--peer ADDR` or `--from DIR`); `petal reindex` rebuilds the index if only it is wrong' },
    EMPTY_CHAIN: { meaning: 'the chain index holds no blocks', hint: 'run `petal reindex`' }
  }
}

registerErrorClass(ChainError, 'the chain as a whole (not one block) cannot do what was asked', chainErrorDocs)
