import { importBatch, loadBlock, type BatchOutcome, type Chain, type LoadedBlock, type LoadPool, type SealVerdict } from '../chain/index.js'
import { MAP_MIN_BYTES } from '../block/index.js'
import { TmpFilePool, tmpBlockPath } from '../storage/index.js'
import type { WorkProgress } from '../util/index.js'

/** Where downloaded blocks go: the chain's full validation and fork choice. */
export interface BlockImporter {
  readonly maxBlockBytes: number
  /** A fresh path in the data directory's tmp/ to download a block into. */
  tmpPath: () => string
  /**
   * Empty files in tmp/ created ahead, off this thread, for one download's range receives
   * (storage/tmp-files.ts, through RangeFiles); the download closes it, which removes those it
   * did not take.
   */
  tmpFiles?: () => TmpFilePool
  /**
   * The checks that need only the file (hash, structure, manifest), run as soon as it has arrived,
   * several at once and ahead of the import point; consumes `file`. Throws BlockError when the
   * file is not a sound block. `ahead`: more blocks of the branch are coming (catching up), so
   * the checks may go to worker threads; a lone block (following the tip) is checked here.
   * `sealChecked`: the seal of the block's header as the header feed verified it (spares the
   * threads a second check of that seal). `head`: the file's first bytes as the download wrote them.
   * `hashed` false: the download did not hash the bytes (hashLater): the checks hash them first,
   * and a file of another hash is refused (BlockError HASH_MISMATCH) before anything else runs.
   */
  load: (file: string, seal: string, expectedHash: string, signal: AbortSignal, o: { ahead: boolean, size?: number, head?: Uint8Array, hashed?: boolean, sealChecked?: SealVerdict, onProgress?: (p: WorkProgress) => void }) => Promise<LoadedBlock>
  /**
   * Whether a range's block of `size` bytes (by its header) may arrive unhashed: its checks, on a
   * load thread, hash the bytes they read whole anyway (checkLoad), so the SHA-256 leaves the
   * pulling main thread (docs/performance/pull.md, "Session 51: the download's SHA-256 on the load thread (pull51)").
   */
  hashLater?: (size: number) => boolean
  /** Validate in order on the chain and store (consecutive blocks as one group); consumes every block. */
  importBatch: (blocks: LoadedBlock[], signal: AbortSignal) => Promise<BatchOutcome>
}

// Smaller blocks (a catch-up's) keep the receive's hash: moving theirs was not measured.
const HASH_LATER_MIN_BYTES = 128 * 1024

/**
 * The importer of a chain: files are consumed from tmp/; `loadPool` checks them on worker threads
 * while catching up. A lone block is checked on this thread: a node following the tip never
 * starts the threads (nor waits for them).
 */
export function chainImporter (chain: Chain, loadPool?: LoadPool): BlockImporter {
  return {
    maxBlockBytes: chain.params.maxBlockBytes,
    tmpPath: () => tmpBlockPath(chain.dir),
    tmpFiles: () => new TmpFilePool(chain.dir),
    // The transfer hashed the bytes it wrote and compared them with `expectedHash` (not again), or left them to the checks (`hashed` false).
    load: async (file, seal, expectedHash, signal, o) => await loadBlock(chain, file, seal, { expectedHash, hashed: o.hashed !== false, written: true, consume: true, size: o.size, head: o.head, signal, onProgress: o.onProgress, loadPool: o.ahead ? loadPool : undefined, sealChecked: o.sealChecked }),
    hashLater: size => loadPool !== undefined && size > HASH_LATER_MIN_BYTES && size < MAP_MIN_BYTES,
    importBatch: async (blocks, signal) => await importBatch(chain, blocks, { signal })
  }
}
