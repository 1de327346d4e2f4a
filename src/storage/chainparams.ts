import { readFileSync } from 'node:fs'
import { QUORUM_RULES, type QuorumRule, type GenesisParams } from '../block/index.js'
import { isHash, isNotFound, parseRfc3339, writeFileAtomic } from '../util/index.js'
import { StorageError } from './errors.js'

/**
 * A chain's definition, `chainparams.json` (Daisy's field names, plus Petal's consensus limits).
 * The consensus fields are also committed to inside the genesis block, so a genesis hash pins them.
 */
export interface ChainParams {
  genesisHash: string
  /** hex DER seal of the genesis block */
  genesisSeal: string
  genesisTimestamp: string
  creator: string
  creatorPublicKey: string
  description: string
  /** libp2p multiaddrs of peers to dial first */
  bootstrapPeers: string[]
  quorumRule: QuorumRule
  maxBlockBytes: number
  maxReorgDepth: number
}

/** What `petal newchain PARAMS.json` accepts. */
export interface NewChainInput {
  creator: string
  description: string
  genesisTimestamp?: string
  bootstrapPeers: string[]
  genesisDb?: string
  consensus: GenesisParams
}

export const DEFAULT_CONSENSUS: GenesisParams = { quorumRule: 'daisy-capped', maxBlockBytes: 64 * 1024 * 1024, maxReorgDepth: 100 }

const invalid = (why: string, hint?: string): StorageError => new StorageError('CHAINPARAMS_INVALID', why, { hint })

export function chainParamsToJson (p: ChainParams): string {
  return JSON.stringify({
    genesis_block_hash: p.genesisHash,
    genesis_block_hash_signature: p.genesisSeal,
    genesis_block_timestamp: p.genesisTimestamp,
    creator: p.creator,
    creator_public_key: p.creatorPublicKey,
    bootstrap_peers: p.bootstrapPeers,
    consensus_type: 'PoA',
    description: p.description,
    quorum_rule: p.quorumRule,
    max_block_bytes: p.maxBlockBytes,
    max_reorg_depth: p.maxReorgDepth
  }, null, 2) + '\n'
}

/** Parse and check a chainparams.json document (from disk or from a peer). */
export function parseChainParams (text: string): ChainParams {
  let j: Record<string, unknown>
  try {
    j = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw invalid('chainparams.json is not valid JSON')
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw invalid('chainparams.json must hold a JSON object')
  const str = (k: string, required = false): string => {
    const v = j[k]
    if (v === undefined || v === null) { if (required) throw invalid(`chainparams.json lacks ${k}`); return '' }
    if (typeof v !== 'string') throw invalid(`chainparams.json field ${k} must be a string`)
    return v
  }
  const genesisHash = str('genesis_block_hash', true)
  if (!isHash(genesisHash)) throw invalid('genesis_block_hash must be 64 lower-case hex digits')
  const quorumRule = (j.quorum_rule ?? DEFAULT_CONSENSUS.quorumRule) as QuorumRule
  if (!QUORUM_RULES.includes(quorumRule)) throw invalid(`quorum_rule must be one of ${QUORUM_RULES.join(', ')}`)
  return {
    genesisHash,
    genesisSeal: str('genesis_block_hash_signature', true),
    genesisTimestamp: str('genesis_block_timestamp'),
    creator: str('creator'),
    creatorPublicKey: str('creator_public_key'),
    description: str('description'),
    bootstrapPeers: stringList(j.bootstrap_peers, 'bootstrap_peers'),
    quorumRule,
    maxBlockBytes: int(j.max_block_bytes, 'max_block_bytes', DEFAULT_CONSENSUS.maxBlockBytes, ...BLOCK_BYTES),
    maxReorgDepth: int(j.max_reorg_depth, 'max_reorg_depth', DEFAULT_CONSENSUS.maxReorgDepth, ...REORG_DEPTH)
  }
}

function stringList (v: unknown, name: string): string[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v) || !v.every(x => typeof x === 'string')) throw invalid(`${name} must be a list of strings`)
  return v as string[]
}

function int (v: unknown, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined || v === null) return dflt
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw invalid(`${name} must be an integer from ${min} to ${max}`)
  return v
}

// Bounds of the consensus limits. max_block_bytes also bounds what a node downloads from a peer
// whose chain parameters it has not yet checked (pull), so it cannot be unbounded.
const BLOCK_BYTES = [4096, 2 ** 32] as const
const REORG_DEPTH = [0, 2 ** 31] as const

export function readChainParams (path: string): ChainParams {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if (isNotFound(err)) {
      throw new StorageError('NOT_INITIALISED', `no chain in ${path.replace(/\/chainparams\.json$/, '')}`, {
        hint: 'create one with `petal newchain PARAMS.json`, fetch one with `petal pull MULTIADDR`, or choose another --dir'
      })
    }
    const code = (err as { code?: string }).code
    if (code === 'ENOTDIR') {
      throw new StorageError('NOT_INITIALISED', `${path.replace(/\/chainparams\.json$/, '')} is not a directory`, { hint: '--dir (or PETAL_DIR) names the data directory, not a file in it' })
    }
    if (code === 'EACCES') {
      throw new StorageError('DATA_DIR_READONLY', `cannot read ${path}: permission denied`, { hint: 'run as a user who can read the data directory' })
    }
    throw err
  }
  return parseChainParams(text)
}

export function writeChainParams (path: string, p: ChainParams): void {
  writeFileAtomic(path, chainParamsToJson(p))
}

const NEWCHAIN_FIELDS = ['creator', 'description', 'genesis_block_timestamp', 'bootstrap_peers', 'genesis_db', 'consensus_type', 'quorum_rule', 'max_block_bytes', 'max_reorg_depth']
const CRYPTO_FIELDS = ['genesis_block_hash', 'genesis_block_hash_signature', 'creator_public_key']

/** Parse `newchain` input: Daisy's fields plus quorum_rule, max_block_bytes, max_reorg_depth. */
export function parseNewChainInput (text: string): NewChainInput {
  let j: Record<string, unknown>
  try {
    j = JSON.parse(text) as Record<string, unknown>
  } catch (err) {
    throw invalid(`chain parameters are not valid JSON: ${(err as Error).message}`)
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw invalid('chain parameters must be a JSON object')
  for (const k of Object.keys(j)) {
    if (CRYPTO_FIELDS.includes(k)) throw invalid(`${k} must not be given: newchain computes it`, `remove ${k} from the file`)
    if (!NEWCHAIN_FIELDS.includes(k)) {
      const near = NEWCHAIN_FIELDS.find(f => f.replace(/_/g, '') === k.toLowerCase().replace(/[_-]/g, ''))
      throw invalid(`unknown field ${JSON.stringify(k)}`, near !== undefined ? `did you mean ${near}?` : `known fields: ${NEWCHAIN_FIELDS.join(', ')}`)
    }
  }
  const optStr = (k: string): string | undefined => {
    const v = j[k]
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'string') throw invalid(`${k} must be a string`)
    return v
  }
  if (j.consensus_type !== undefined && j.consensus_type !== 'PoA') throw invalid('consensus_type must be "PoA"')
  const ts = optStr('genesis_block_timestamp')
  if (ts !== undefined && parseRfc3339(ts) === undefined) throw invalid('genesis_block_timestamp must be an RFC 3339 timestamp', 'e.g. 2026-01-31T12:00:00Z')
  const quorumRule = (j.quorum_rule ?? DEFAULT_CONSENSUS.quorumRule) as QuorumRule
  if (!QUORUM_RULES.includes(quorumRule)) throw invalid(`quorum_rule must be one of ${QUORUM_RULES.join(', ')}`)
  return {
    creator: optStr('creator') ?? '',
    description: optStr('description') ?? '',
    genesisTimestamp: ts,
    bootstrapPeers: stringList(j.bootstrap_peers, 'bootstrap_peers'),
    genesisDb: optStr('genesis_db'),
    consensus: {
      quorumRule,
      maxBlockBytes: int(j.max_block_bytes, 'max_block_bytes', DEFAULT_CONSENSUS.maxBlockBytes, ...BLOCK_BYTES),
      maxReorgDepth: int(j.max_reorg_depth, 'max_reorg_depth', DEFAULT_CONSENSUS.maxReorgDepth, ...REORG_DEPTH)
    }
  }
}
