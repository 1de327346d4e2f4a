import { readFileSync } from 'node:fs'
import { CONSENSUS_BOUNDS, isQuorumRule, QUORUM_RULES, type DaisyCommitment, type GenesisParams, type QuorumRule } from '../block/index.js'
import { errorCode, errorMessage, isHash, isNotFound, isRecord, isStringArray, parseJson, parseRfc3339, writeFileAtomic } from '../util/index.js'
import { StorageError } from './errors.js'
import { checkDataFile } from './data-file.js'

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
  /** The Daisy chain the new chain continues (petal adopt-daisy), committed to in its genesis. */
  daisy?: DaisyCommitment
  /** Key ids the genesis adds besides its creator's (adopt-daisy: the Daisy chain's active signatories), with their public keys (hex SPKI). */
  signatories?: Array<{ id: string, publicKey: string }>
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

/** The JSON object in `text`, or CHAINPARAMS_INVALID naming `what`. */
function jsonObject (text: string, what: string): Record<string, unknown> {
  let j: unknown
  try {
    j = parseJson(text)
  } catch (err) {
    throw invalid(`${what} ${what === 'chainparams.json' ? 'is' : 'are'} not valid JSON: ${errorMessage(err)}`)
  }
  if (!isRecord(j)) throw invalid(`${what} must hold a JSON object`)
  return j
}

/**
 * The consensus fields both documents share (quorum_rule, max_block_bytes, max_reorg_depth), with
 * their defaults and the bounds a genesis block allows (CONSENSUS_BOUNDS). The one parser of them.
 */
function parseConsensus (j: Record<string, unknown>): GenesisParams {
  const quorumRule = j.quorum_rule ?? DEFAULT_CONSENSUS.quorumRule
  if (!isQuorumRule(quorumRule)) throw invalid(`quorum_rule must be one of ${QUORUM_RULES.join(', ')}`)
  const { maxBlockBytes: bytes, maxReorgDepth: depth } = CONSENSUS_BOUNDS
  return {
    quorumRule,
    maxBlockBytes: int(j.max_block_bytes, 'max_block_bytes', DEFAULT_CONSENSUS.maxBlockBytes, bytes.min, bytes.max),
    maxReorgDepth: int(j.max_reorg_depth, 'max_reorg_depth', DEFAULT_CONSENSUS.maxReorgDepth, depth.min, depth.max)
  }
}

/** Parse and check a chainparams.json document (from disk or from a peer). */
export function parseChainParams (text: string): ChainParams {
  const j = jsonObject(text, 'chainparams.json')
  const str = (k: string, required = false): string => {
    const v = j[k]
    if (v === undefined || v === null) { if (required) throw invalid(`chainparams.json lacks ${k}`); return '' }
    if (typeof v !== 'string') throw invalid(`chainparams.json field ${k} must be a string`)
    return v
  }
  const genesisHash = str('genesis_block_hash', true)
  if (!isHash(genesisHash)) throw invalid('genesis_block_hash must be 64 lower-case hex digits')
  return {
    genesisHash,
    genesisSeal: str('genesis_block_hash_signature', true),
    genesisTimestamp: str('genesis_block_timestamp'),
    creator: str('creator'),
    creatorPublicKey: str('creator_public_key'),
    description: str('description'),
    bootstrapPeers: stringList(j.bootstrap_peers, 'bootstrap_peers'),
    ...parseConsensus(j)
  }
}

function stringList (v: unknown, name: string): string[] {
  if (v === undefined || v === null) return []
  if (!isStringArray(v)) throw invalid(`${name} must be a list of strings`)
  return v
}

function int (v: unknown, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined || v === null) return dflt
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw invalid(`${name} must be an integer from ${min} to ${max}`)
  return v
}

export function readChainParams (path: string): ChainParams {
  let text: string
  try {
    checkDataFile(path, 'chain definition')
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if (isNotFound(err)) {
      throw new StorageError('NOT_INITIALISED', `no chain in ${path.replace(/\/chainparams\.json$/, '')}`, {
        hint: 'create one with `petal newchain PARAMS.json`, fetch one with `petal pull MULTIADDR`, or choose another --dir'
      })
    }
    const code = errorCode(err)
    if (code === 'ENOTDIR') {
      throw new StorageError('NOT_INITIALISED', `${path.replace(/\/chainparams\.json$/, '')} is not a directory`, { hint: '--dir (or PETAL_DIR) names the data directory, not a file in it' })
    }
    if (code === 'EACCES') {
      throw new StorageError('DATA_DIR_READONLY', `cannot read ${path}: permission denied`, { hint: 'run as a user who can read the data directory' })
    }
    throw err
  }
  try {
    return parseChainParams(text)
  } catch (err) {
    // The file this directory's chain was made or pulled with, edited or damaged since.
    if (err instanceof StorageError && err.hint === undefined) {
      const what = err.message.startsWith('chainparams.json ') ? path + err.message.slice('chainparams.json'.length) : `${path}: ${err.message}`
      throw new StorageError('CHAINPARAMS_INVALID', what, {
        hint: 'put back the original file: from a backup, or a copy of chainparams.json from another node of this chain (every node holds the same one)', cause: err
      })
    }
    throw err
  }
}

export function writeChainParams (path: string, p: ChainParams): void {
  writeFileAtomic(path, chainParamsToJson(p))
}

const NEWCHAIN_FIELDS = ['creator', 'description', 'genesis_block_timestamp', 'bootstrap_peers', 'genesis_db', 'consensus_type', 'quorum_rule', 'max_block_bytes', 'max_reorg_depth']
const CRYPTO_FIELDS = ['genesis_block_hash', 'genesis_block_hash_signature', 'creator_public_key']

/** Parse `newchain` input: Daisy's fields plus quorum_rule, max_block_bytes, max_reorg_depth. */
export function parseNewChainInput (text: string): NewChainInput {
  try {
    return parseNewChainFields(jsonObject(text, 'chain parameters'))
  } catch (err) {
    if (err instanceof StorageError && err.hint === undefined) {
      throw new StorageError('CHAINPARAMS_INVALID', err.message, { hint: 'correct it in the file, then run the command again (docs/cli.md, `petal newchain`, lists the fields)', cause: err })
    }
    throw err
  }
}

function parseNewChainFields (j: Record<string, unknown>): NewChainInput {
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
  return {
    creator: optStr('creator') ?? '',
    description: optStr('description') ?? '',
    genesisTimestamp: ts,
    bootstrapPeers: stringList(j.bootstrap_peers, 'bootstrap_peers'),
    genesisDb: optStr('genesis_db'),
    consensus: parseConsensus(j)
  }
}
