import { existsSync, statSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { BUILD_PASSES, buildBlock, type EncryptSpec, type KeyOpRow, type RewrapSpec } from '../block/index.js'
import type { SigningKey } from '../crypto/index.js'
import { prepareBlockFiles, prepareBlockFilesSync, refuseUnplaceable, sealPathOf, tmpBlockPath, type LockOptions } from '../storage/index.js'
import { failpoint, formatTimestamp, pausepoint, WorkMeter, type OnWorkProgress } from '../util/index.js'
import { basename } from 'node:path'
import { acceptCandidate, type ImportResult } from './accept.js'
import type { Chain } from './chain.js'
import { loadCandidate } from './validate/index.js'
import { writeTx } from './write-tx.js'

export interface SignImportOptions extends LockOptions {
  /** Endorsements (`petal signkey` output) to put in the block's `_keys`. */
  keyOps?: KeyOpRow[]
  /** Build from this file's content but replace its `_keys` rows by `keyOps` (re-sealing). */
  replaceKeyOps?: boolean
  /**
   * Work done, in bytes: building (copying, checking, hashing rows, hashing) and storing:
   * SIGN_IMPORT_PASSES passes over the file (validating re-reads none of it).
   */
  onProgress?: OnWorkProgress
  /**
   * Called under the write lock once the block is built and has passed the intrinsic checks, just
   * before it is accepted and committed. A caller that must durably remember the block before it
   * can be on the chain (the ingest service records its batch's block hash) does it here; throwing
   * aborts the import and leaves the chain as it was.
   */
  beforeAccept?: (block: { hash: string, height: number, rowsRoot: string }) => Promise<void> | void
  /**
   * Called under the write lock once the block is accepted, before the commit: writes that belong
   * in the same transaction (signimportblock signs the checkpoints of the tree the block extends),
   * so that the import and they are one commit, not two. Throwing aborts the import.
   */
  afterAccept?: (result: ImportResult) => void
  /** `_meta` `Description` of the block (a re-seal's mark: reseal-mark.ts). */
  description?: string
  /** Refuse (EMPTY_BLOCK) to seal a block without user tables and key operations. */
  refuseEmpty?: boolean
  /** Encrypt columns of the source for recipients (docs/confidential.md). */
  encrypt?: EncryptSpec
  /** Wrap earlier blocks' data keys for more recipients. */
  rewrap?: RewrapSpec[]
}

export const SIGN_IMPORT_PASSES = BUILD_PASSES + 1

/** Sources up to this size have their block flushed on the calling thread (prepareBlockFilesSync). */
const SYNC_PREPARE_MAX_BYTES = 256 * 1024

/** The source's size for the progress total; 0 if it cannot be read (the build says why). */
function sourceSize (source: string): number {
  try {
    return statSync(source, { throwIfNoEntry: false })?.size ?? 0
  } catch {
    return 0
  }
}

/**
 * `signimportblock`: build a block from the user's SQLite file on top of the current tip, seal it
 * with `key`, and import it through the same validation as a block from the network. The user's
 * file is only read. Holding the write lock from reading the tip to committing means two
 * concurrent callers end up one after the other, never both on the same parent.
 */
export async function signImport (chain: Chain, source: string | undefined, key: SigningKey, options: SignImportOptions = {}): Promise<ImportResult> {
  chain.assertCanSign(key)
  // The total is known before the write lock is taken: the source's size times the passes. A
  // synchronous stat (a few microseconds): the promisified one compiled Node's callback path for it.
  const size = source === undefined ? 0 : sourceSize(source)
  const meter = options.onProgress === undefined ? undefined : new WorkMeter(options.onProgress, size * SIGN_IMPORT_PASSES)
  return await writeTx(chain, async tx => {
    const tip = chain.tip()
    chain.assertCanSign(key, chain.keysAt(tip))
    // Before the build: a refusal found at the placement's rename or the index's write came after
    // all the work, and named no path (session 54's left).
    refuseUnplaceable(chain.dir, tip.height + 1)
    const tmp = tmpBlockPath(chain.dir)
    try {
      const built = await buildBlock({
        source,
        output: tmp,
        key,
        chainId: chain.chainId,
        height: tip.height + 1,
        previousHash: tip.hash,
        // Never before the parent, even if this clock is behind the previous signer's.
        timestamp: formatTimestamp(Math.max(chain.clock.now(), Date.parse(tip.timestamp))),
        keyOps: options.keyOps,
        replaceKeyOps: options.replaceKeyOps,
        refuseEmpty: options.refuseEmpty,
        description: options.description,
        encrypt: options.encrypt,
        rewrap: options.rewrap,
        maxBytes: chain.params.maxBlockBytes,
        pool: chain.hashPool,
        signal: options.signal,
        meter
      })
      await pausepoint('sign-import:locked', options.signal)
      // The file is final: its flush and its .sig's write and flush (two fsyncs at once on the
      // thread pool) run beside the validation, and placement only moves the two and flushes the
      // directories. A crash before the move leaves private tmp/ files, which cleanTmp removes.
      // A small block's are flushed here instead: starting the pool's threads cost more than the
      // overlap (docs/performance/import.md, "Session 26: the 100-row import").
      let preparing = Promise.resolve()
      if (size <= SYNC_PREPARE_MAX_BYTES) prepareBlockFilesSync(tmp, built.seal)
      else preparing = prepareBlockFiles(tmp, built.seal)
      let c
      try {
        // The same validation as a block from the network, except for what the build already did
        // on this very file, which nobody else can write: hashing it, quick_check, hashing its rows.
        c = await loadCandidate(tmp, built.seal, { maxBytes: chain.params.maxBlockBytes, built: { hash: built.hash, tables: built.manifest.tables }, pool: chain.hashPool, signal: options.signal, meter })
      } finally {
        // Settled before anything else happens to the files (the finally below removes them).
        await preparing.catch(() => {})
      }
      await preparing
      failpoint('sign-import:prepared')
      await options.beforeAccept?.({ hash: built.hash, height: built.header.height, rowsRoot: built.header.rowsRoot })
      meter?.stage('storing', c.file.size)
      const r = acceptCandidate(chain, c, tmp, tx, { prepared: true })
      options.afterAccept?.(r)
      meter?.finish()
      return r
    } finally {
      // Placement moved both files away unless the import failed (or the block was known): only
      // then is there anything to remove (rm loads Node's rimraf, and each missing path is a
      // rejected promise with an Error built for it).
      for (const f of [tmp, sealPathOf(tmp)]) if (existsSync(f)) await rm(f, { force: true })
    }
  }, { work: `signimportblock ${source === undefined ? '(key operations only)' : basename(source)}`, ...options, placesBlocks: true })
}
