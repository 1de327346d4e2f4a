import type { TableEntry } from '../block/index.js'
import type { Candidate } from './validate/types.js'

/**
 * A verify worker's reply for an ordinary block (v2, above the genesis, no key operations) as a
 * flat array rather than nested objects: the structured clone writes every property name of
 * every object and the receiving thread rebuilds each object property by property (~15 K
 * instructions of the in-order thread per block, docs/performance/verify.md "Session 14: plain
 * verify"); an array's values go by position, and the in-order thread builds the Candidate with
 * one literal. Other blocks (the genesis, key operations) cross as objects, as before.
 */
export type CandidateTuple = [
  hash: string, seal: string, size: number,
  chainId: string, height: number, previousHash: string, previousHashSignature: string, creator: string,
  timestamp: string, time: number, rowsRoot: string, creatorName: string | undefined, description: string | undefined,
  tables: TableEntry[], key: string | undefined, prev: boolean, sealOk: boolean
]

/** The tuple of `c`, if it is an ordinary block whose header has exactly the fields the tuple carries. */
export function toTuple (c: Candidate): CandidateTuple | undefined {
  const h = c.file.header
  if (h.version !== 2 || h.height < 1 || h.genesis !== undefined || h.daisy !== undefined || c.file.keyOps.length !== 0 || Object.keys(h).length !== HEADER_KEYS) return undefined
  const v = c.verified
  return [c.hash, c.seal, c.file.size, h.chainId, h.height, h.previousHash, h.previousHashSignature, h.creator, h.timestamp, h.time, h.rowsRoot,
    h.creatorName, h.description, c.file.tables, v?.key, v?.prev ?? false, v?.seal ?? false]
}

// version, chainId, height, previousHash, previousHashSignature, creator, timestamp, time, rowsRoot, creatorName, description
const HEADER_KEYS = 11

/**
 * The Candidate toTuple was given (the same fields, in headerFromMeta's order). Read by index:
 * destructuring 17 elements goes through the array iterator, which the in-order thread ran per
 * block and TurboFan compiled inline (docs/performance/verify.md, "Session 19: plain verify").
 */
export function fromTuple (t: CandidateTuple): Candidate {
  const key = t[14]
  return {
    hash: t[0],
    seal: t[1],
    file: { size: t[2], header: { version: 2, chainId: t[3], height: t[4], previousHash: t[5], previousHashSignature: t[6], creator: t[7], timestamp: t[8], time: t[9], rowsRoot: t[10], creatorName: t[11], description: t[12] }, keyOps: [], tables: t[13] },
    verified: key === undefined ? undefined : { key, prev: t[15], seal: t[16] }
  }
}
