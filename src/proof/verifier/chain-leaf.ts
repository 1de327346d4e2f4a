// The chain tree's leaf (docs/proofs.md "Chain tree"): one per canonical block, by height.
import { concatBytes, hashFromHex, u64be, utf8 } from './bytes.js'

/** Domain tag: no other Petal hash input starts with these bytes. */
export const CHAIN_LEAF_TAG = 'petal/v2/chain-leaf\n'
const TAG = utf8(CHAIN_LEAF_TAG)

/** What leaf `height` commits to. */
export interface ChainLeaf {
  height: number
  /** block hash, 64 hex */
  hash: string
  /** `_meta.RowsRoot`, 64 hex */
  rowsRoot: string
  /** creator key id, `"1:" + 64 hex` */
  creator: string
}

/**
 * The 124 leaf bytes: tag (20) ‖ height u64 BE (8) ‖ block hash (32) ‖ RowsRoot (32) ‖ the
 * creator's SHA-256(SPKI) (32). Fixed layout, so no two leaves share an encoding. Undefined when
 * a field is malformed.
 */
export function encodeChainLeaf (b: ChainLeaf): Uint8Array | undefined {
  if (!Number.isSafeInteger(b.height) || b.height < 0) return undefined
  const hash = hashFromHex(b.hash)
  const rowsRoot = hashFromHex(b.rowsRoot)
  const creator = b.creator.startsWith('1:') ? hashFromHex(b.creator.slice(2)) : undefined
  if (hash === undefined || rowsRoot === undefined || creator === undefined) return undefined
  return concatBytes(TAG, u64be(b.height), hash, rowsRoot, creator)
}
