import type { BlockRecord, KeyOpRecord } from '../storage/index.js'
import type { Candidate } from './validate/index.js'

/** The index row of a validated block: what its file says, its seal, size and key operations. */
export function blockRecordOf (c: Candidate, ops: readonly KeyOpRecord[], canonical: boolean, receivedAt: number): BlockRecord {
  const h = c.file.header
  return {
    hash: c.hash, height: h.height, parent: h.previousHash, canonical, version: h.version, signer: h.creator,
    timestamp: h.timestamp, rowsRoot: h.rowsRoot, prevSig: h.previousHashSignature, seal: c.seal, size: c.file.size,
    keyOpCount: ops.length, receivedAt
  }
}
