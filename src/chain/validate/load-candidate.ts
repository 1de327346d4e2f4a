import { stat } from 'node:fs/promises'
import { readBlockFile, type BlockHead, type TableEntry, type TableRootPool } from '../../block/index.js'
import { BlockError } from '../../block/index.js'
import { sha256File } from '../../crypto/index.js'
import type { WorkMeter } from '../../util/index.js'
import type { Candidate } from './types.js'
import { errorCode } from '../../util/index.js'

export interface LoadOptions {
  maxBytes: number
  /** The hash the sender announced; a different file is refused before anything else runs. */
  expectedHash?: string
  /**
   * The file's SHA-256, computed by the caller over these very bytes as it wrote them (a
   * download into a private file): the file is not hashed again.
   */
  knownHash?: string
  /** The file's first bytes and size as the caller wrote them to this private file (readBlockFile's `head`). */
  head?: BlockHead
  /** The caller's own download into its private tmp/ (hashed as written, or here without `knownHash`): read through a memory map (readBlockFile's `ownDownload`). */
  ownDownload?: boolean
  checkManifest?: boolean
  /**
   * What this process's buildBlock computed from this very file: a private temporary written only
   * by it, under the chain's write lock, and closed before it was hashed. Its hash is taken as is
   * (not re-read), `_tables` is compared with the build's roots (readBlockFile's knownTables), and
   * quick_check is not run again: the build ran it on the copied input before anything else, and
   * what it wrote afterwards (reserved tables, encrypted columns) SQLite wrote itself. Every other
   * check (header, schema, `_meta`, `_keys`, `_tables` and RowsRoot, signatures) still runs.
   */
  built?: { hash: string, tables: readonly TableEntry[] }
  /** Worker threads for the manifest check (Chain.hashPool). */
  pool?: TableRootPool
  signal?: AbortSignal
  /** Counts the work: LOAD_PASSES passes over the file (hashing, quick_check, manifest rows); none with `built`. */
  meter?: WorkMeter
}

/** Passes over the file loadCandidate makes (with the manifest check), for a progress total. */
export const LOAD_PASSES = 3

/**
 * Intrinsic steps: hash the file, compare with the announced hash, then structural validation
 * (size, header, quick_check, schema, `_meta`, `_keys` shape, manifest against content).
 */
export async function loadCandidate (path: string, seal: string, o: LoadOptions): Promise<Candidate> {
  const m = o.meter
  if (m !== undefined && o.built === undefined) {
    const size = await stat(path).then(s => s.size, () => 0)
    m.stage('hashing', size)
    if (o.knownHash !== undefined) m.add(size)
  }
  const hash = o.built?.hash ?? o.knownHash ?? await sha256File(path, { signal: o.signal, onBytes: n => { m?.add(n) } }).catch((err: unknown) => {
    if (errorCode(err) === 'ENOENT') throw new BlockError('FILE_NOT_FOUND', `no such file: ${path}`)
    throw err
  })
  checkExpectedHash(hash, o.expectedHash)
  const file = await readBlockFile(path, { maxBytes: o.maxBytes, head: o.head, ownDownload: o.ownDownload, quickCheck: o.built === undefined, checkManifest: o.checkManifest, knownTables: o.built?.tables, pool: o.pool, signal: o.signal, meter: m })
  return { hash, seal, file }
}

/** A file that is not the block it was announced or requested as is refused before anything else. */
export function checkExpectedHash (hash: string, expected: string | undefined): void {
  if (expected !== undefined && hash !== expected) {
    throw new BlockError('HASH_MISMATCH', `block file hashes to ${hash}, expected ${expected}`, { details: { hash, expected } })
  }
}
