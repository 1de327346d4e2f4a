import { isKeyId } from '../crypto/index.js'
import { isHash, isHex, parseRfc3339, parseUtcTimestamp } from '../util/index.js'
import { BLOCK_VERSION, CONSENSUS_BOUNDS, GENESIS_PREVIOUS_HASH, isQuorumRule, QUORUM_RULES, type QuorumRule } from './constants.js'
import { BlockError } from './errors.js'

/** Consensus parameters a v2 genesis commits to (so the genesis hash pins them). */
export interface GenesisParams {
  quorumRule: QuorumRule
  maxBlockBytes: number
  maxReorgDepth: number
}

/**
 * What the genesis of a chain that continues a Daisy chain (`petal adopt-daisy`) commits to
 * (docs/block-format.md "Adopting a Daisy chain"): the Daisy chain's last block and its definition.
 */
export interface DaisyCommitment {
  /** `_meta.DaisyGenesisHash`: the Daisy chain's genesis hash (its chain id) */
  genesisHash: string
  /** `_meta.DaisyChainParams`: hex SHA-256 of Daisy's chainparams.json bytes, or `default` (no file: Daisy's default chain) */
  chainParams: string
  /** `_meta.DaisyTipHeight` */
  tipHeight: number
  /** `_meta.DaisyTipHash`: hash of the Daisy block the new chain continues */
  tipHash: string
}

/** The `_meta` keys of a DaisyCommitment, allowed in a v2 genesis only, all four or none. */
export const DAISY_META_KEYS = ['DaisyGenesisHash', 'DaisyChainParams', 'DaisyTipHeight', 'DaisyTipHash'] as const

/** The parsed `_meta` of a block. */
export interface BlockHeader {
  version: 1 | 2
  /** Genesis hash of the chain; '' in the genesis itself and in v1 blocks. */
  chainId: string
  /** v2: from `_meta.Height`; v1: -1 (Daisy derives it from the parent). */
  height: number
  previousHash: string
  /** hex DER */
  previousHashSignature: string
  /** key id of the signer (`_meta.CreatorPublicKey`) */
  creator: string
  /** `_meta.Timestamp` as written ('' when a v1 block has none) */
  timestamp: string
  /** Timestamp in ms since the epoch (NaN when absent) */
  time: number
  /** v2: Merkle root over `_tables`; v1: '' */
  rowsRoot: string
  creatorName?: string
  description?: string
  genesis?: GenesisParams
  /** A genesis that continues a Daisy chain: what it commits to. */
  daisy?: DaisyCommitment
}

const V2_KEYS = new Set<string>(['Version', 'ChainId', 'Height', 'PreviousBlockHash', 'PreviousBlockHashSignature', 'CreatorPublicKey', 'Timestamp', 'RowsRoot', 'Creator', 'Description', 'QuorumRule', 'MaxBlockBytes', 'MaxReorgDepth', ...DAISY_META_KEYS])
const MAX_TEXT = 4096
// Made once, not per header (plain verify parses one per block).
const TEXT_KEYS = ['Creator', 'Description']
const GENESIS_ONLY_KEYS = ['QuorumRule', 'MaxBlockBytes', 'MaxReorgDepth', ...DAISY_META_KEYS]

function bad (key: string, why: string): BlockError {
  return new BlockError('BAD_META', `_meta.${key} ${why}`, { details: { key } })
}

function parseCount (key: string, v: string | undefined, min: number, max: number): number {
  if (v === undefined) throw bad(key, 'is missing')
  if (!/^(0|[1-9][0-9]{0,15})$/.test(v)) throw bad(key, 'is not a canonical decimal integer')
  const n = Number(v)
  if (n < min || n > max) throw bad(key, `is out of range ${min}..${max}`)
  return n
}

/** Parse a block's `_meta` rows. Strict for v2 (every field checked, unknown keys refused). */
export function headerFromMeta (meta: ReadonlyMap<string, string>): BlockHeader {
  const version = meta.get('Version')
  if (version === '1') return parseV1(meta)
  if (version !== String(BLOCK_VERSION)) {
    throw new BlockError('UNSUPPORTED_VERSION', `unsupported block version ${JSON.stringify(version ?? null)}`, { hint: 'this Petal reads block versions 1 (Daisy) and 2' })
  }
  for (const k of meta.keys()) if (!V2_KEYS.has(k)) throw bad(k, 'is not a v2 metadata key')
  const height = parseCount('Height', meta.get('Height'), 0, Number.MAX_SAFE_INTEGER)
  const previousHash = meta.get('PreviousBlockHash') ?? ''
  if (!isHash(previousHash)) throw bad('PreviousBlockHash', 'is not 64 lower-case hex digits')
  const previousHashSignature = meta.get('PreviousBlockHashSignature') ?? ''
  if (previousHashSignature === '' || !isHex(previousHashSignature)) throw bad('PreviousBlockHashSignature', 'is not lower-case hex')
  const creator = meta.get('CreatorPublicKey') ?? ''
  if (!isKeyId(creator)) throw bad('CreatorPublicKey', 'is not a key id ("1:" + 64 hex digits)')
  const timestamp = meta.get('Timestamp') ?? ''
  const time = parseUtcTimestamp(timestamp)
  if (time === undefined) throw bad('Timestamp', 'is not an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.sss]Z)')
  const rowsRoot = meta.get('RowsRoot') ?? ''
  if (!isHash(rowsRoot)) throw bad('RowsRoot', 'is not 64 lower-case hex digits')
  for (const k of TEXT_KEYS) {
    if ((meta.get(k)?.length ?? 0) > MAX_TEXT) throw bad(k, `is longer than ${MAX_TEXT} characters`)
  }
  const header: BlockHeader = { version: 2, chainId: '', height, previousHash, previousHashSignature, creator, timestamp, time, rowsRoot, creatorName: meta.get('Creator'), description: meta.get('Description') }
  if (height === 0) {
    if (meta.has('ChainId')) throw bad('ChainId', 'must be absent in a genesis block')
    if (previousHash !== GENESIS_PREVIOUS_HASH) throw bad('PreviousBlockHash', `of a genesis block must be ${GENESIS_PREVIOUS_HASH}`)
    const rule = meta.get('QuorumRule')
    if (!isQuorumRule(rule)) throw bad('QuorumRule', `must be one of ${QUORUM_RULES.join(', ')}`)
    const { maxBlockBytes: bytes, maxReorgDepth: depth } = CONSENSUS_BOUNDS
    header.genesis = {
      quorumRule: rule,
      maxBlockBytes: parseCount('MaxBlockBytes', meta.get('MaxBlockBytes'), bytes.min, bytes.max),
      maxReorgDepth: parseCount('MaxReorgDepth', meta.get('MaxReorgDepth'), depth.min, depth.max)
    }
    const daisy = parseDaisyCommitment(meta)
    if (daisy !== undefined) header.daisy = daisy
  } else {
    const chainId = meta.get('ChainId') ?? ''
    if (!isHash(chainId)) throw bad('ChainId', 'is not 64 lower-case hex digits')
    header.chainId = chainId
    for (const k of GENESIS_ONLY_KEYS) if (meta.has(k)) throw bad(k, 'is only allowed in a genesis block')
  }
  return header
}

function parseDaisyCommitment (meta: ReadonlyMap<string, string>): DaisyCommitment | undefined {
  const present = DAISY_META_KEYS.filter(k => meta.has(k))
  if (present.length === 0) return undefined
  const missing = DAISY_META_KEYS.find(k => !meta.has(k))
  if (missing !== undefined) throw bad(missing, `is missing (a genesis that continues a Daisy chain has all of ${DAISY_META_KEYS.join(', ')})`)
  const genesisHash = meta.get('DaisyGenesisHash') ?? ''
  if (!isHash(genesisHash)) throw bad('DaisyGenesisHash', 'is not 64 lower-case hex digits')
  const tipHash = meta.get('DaisyTipHash') ?? ''
  if (!isHash(tipHash)) throw bad('DaisyTipHash', 'is not 64 lower-case hex digits')
  const chainParams = meta.get('DaisyChainParams') ?? ''
  if (chainParams !== 'default' && !isHash(chainParams)) throw bad('DaisyChainParams', 'is neither 64 lower-case hex digits nor "default"')
  return { genesisHash, chainParams, tipHeight: parseCount('DaisyTipHeight', meta.get('DaisyTipHeight'), 0, Number.MAX_SAFE_INTEGER), tipHash }
}

function parseV1 (meta: ReadonlyMap<string, string>): BlockHeader {
  const previousHash = meta.get('PreviousBlockHash') ?? ''
  if (!isHash(previousHash)) throw bad('PreviousBlockHash', 'is not 64 lower-case hex digits')
  const previousHashSignature = meta.get('PreviousBlockHashSignature') ?? ''
  if (!isHex(previousHashSignature) || previousHashSignature === '') throw bad('PreviousBlockHashSignature', 'is not hex')
  const creator = meta.get('CreatorPublicKey') ?? ''
  if (!isKeyId(creator)) throw bad('CreatorPublicKey', 'is not a key id')
  const timestamp = meta.get('Timestamp') ?? ''
  const time = timestamp === '' ? NaN : (parseRfc3339(timestamp) ?? NaN)
  return { version: 1, chainId: '', height: -1, previousHash, previousHashSignature, creator, timestamp, time, rowsRoot: '', creatorName: meta.get('Creator'), description: meta.get('Description') }
}

/** `_meta` rows of a v2 header, in a fixed order. */
export function headerToMeta (h: BlockHeader): Array<[string, string]> {
  const rows: Array<[string, string]> = [['Version', String(BLOCK_VERSION)]]
  if (h.height > 0) rows.push(['ChainId', h.chainId])
  rows.push(['Height', String(h.height)], ['PreviousBlockHash', h.previousHash], ['PreviousBlockHashSignature', h.previousHashSignature],
    ['CreatorPublicKey', h.creator], ['Timestamp', h.timestamp], ['RowsRoot', h.rowsRoot])
  if (h.creatorName !== undefined) rows.push(['Creator', h.creatorName])
  if (h.description !== undefined) rows.push(['Description', h.description])
  if (h.genesis !== undefined) {
    rows.push(['QuorumRule', h.genesis.quorumRule], ['MaxBlockBytes', String(h.genesis.maxBlockBytes)], ['MaxReorgDepth', String(h.genesis.maxReorgDepth)])
  }
  if (h.daisy !== undefined) {
    rows.push(['DaisyGenesisHash', h.daisy.genesisHash], ['DaisyChainParams', h.daisy.chainParams], ['DaisyTipHeight', String(h.daisy.tipHeight)], ['DaisyTipHash', h.daisy.tipHash])
  }
  return rows
}
