import { copyFile, rename, stat, unlink } from 'node:fs/promises'
import { constants as fsConstants } from 'node:fs'
import { basename, dirname } from 'node:path'
import { BlockError, checkRegularInput, verifySeal } from '../block/index.js'
import { sealPathOf, tmpBlockPath, tmpOwnPrefix, type LockOptions } from '../storage/index.js'
import { isNotFound, pausepoint, WorkMeter, type OnWorkProgress } from '../util/index.js'
import { acceptCandidate, type ImportResult } from './accept.js'
import type { Chain } from './chain.js'
import { ChainError } from './errors.js'
import { damageOf, restoreBlock } from './repair.js'
import { LOAD_PASSES, loadCandidate, type Candidate, type SealVerdict } from './validate/index.js'
import { writeTx } from './write-tx.js'
import { POOLED_LOAD_MAX_BYTES, PREPARE_ON_THREAD_MIN_BYTES, type LoadPool } from './load-pool.js'

export interface ImportOptions extends LockOptions {
  /** The hash the block was announced or requested with. */
  expectedHash?: string
  /**
   * Take ownership of `file` instead of copying it; for files already in tmp/. A file of this
   * process in this data directory's tmp/ (a download) is taken where it is, others are renamed.
   */
  consume?: boolean
  /** The file's size, when the caller knows it (a download): it is not stat'ed again. */
  size?: number
  /**
   * With `hashed` or `written`, and `size`: the first bytes (at least the SQLite header's 100, or all) the
   * caller wrote to this private file when it created it; the header is checked on them instead
   * of being read from the file again (readBlockFile's `head`).
   */
  head?: Uint8Array
  /**
   * With `consume` and `expectedHash`: the caller wrote this private file and checked that its
   * bytes hash to `expectedHash` as it wrote them (a download), so it is not hashed again.
   */
  hashed?: boolean
  /**
   * With `consume`: the caller created this private file and wrote these bytes to it (a download)
   * without hashing them: its checks hash the bytes they read (whole, from the file or its map) and
   * refuse another hash (HASH_MISMATCH) before anything else runs, then check those same bytes.
   */
  written?: boolean
  /** Work done, in bytes: copying, hashing, checking, hashing rows, storing (IMPORT_PASSES passes over the file). */
  onProgress?: OnWorkProgress
  /** Worker threads for the file-only checks (blocks up to POOLED_LOAD_MAX_BYTES). */
  loadPool?: LoadPool
  /**
   * The seal of the header the block was requested by, as this process verified it (with
   * `expectedHash`); used on the load pool's threads (a block checked on this thread verifies its seal itself).
   */
  sealChecked?: SealVerdict
}

/** Passes over the file importBlock makes when it copies it, for a progress total across several imports. */
export const IMPORT_PASSES = LOAD_PASSES + 2

/**
 * A block file that passed the checks needing nothing but itself (hash, structure, manifest),
 * held as a private file in tmp/ until it is placed or discarded. Loading needs no lock and no
 * chain state, so blocks N+1…N+k load while N is being placed.
 */
export interface LoadedBlock {
  readonly candidate: Candidate
  /** The private copy in the data directory's tmp/, which placement moves into its slot. */
  readonly tmp: string
  /** Counts the storing stage, when the caller asked for progress. */
  readonly meter?: WorkMeter
  /** `tmp` and its `.sig` beside it are durable already (written by the load thread that checked it). */
  readonly prepared?: boolean
  /** Its `.sig` is written beside `tmp`, not flushed (by the load thread that checked it: a small block). */
  readonly sealWritten?: boolean
}

/**
 * A v1 (Daisy) block never extends a v2 chain; its seal is checked first, so the refusal says
 * whether the block is authentic: with its signer's key as this chain knows it (an adopted
 * chain's signatories are Daisy's) or as the block's own `_keys` adds it.
 */
function refuseV1 (chain: Chain, c: Candidate): never {
  const h = c.file.header
  const key = chain.keysAt(chain.tip()).get(h.creator)?.publicKey ?? c.file.keyOps.find(r => r.keyId === h.creator)?.publicKey
  const what = `${c.hash} is a v1 (Daisy) block signed by ${h.creator}`
  const hint = 'a v2 chain takes no v1 block: read a Daisy directory with `petal --dir DAISY_DIR status` (verify, blocks, query…), or continue its chain with `petal adopt-daisy DAISY_DIR --dir NEW`'
  if (key === undefined) {
    throw new BlockError('UNSUPPORTED_VERSION', `${what}, a key this chain does not know, so its seal cannot be checked; nothing was imported`, { hint })
  }
  if (!verifySeal(key, h, c.hash, c.seal)) {
    throw new BlockError('BAD_SEAL', `the seal given with block ${c.hash}, a v1 (Daisy) block, does not verify with its signer's key ${h.creator} (checked over the raw block hash, as Daisy signs); nothing was imported`, {
      details: { height: h.height, hash: c.hash }, hint: 'give the seal Daisy recorded for this block (daisy.db, column hash_signature)'
    })
  }
  throw new BlockError('UNSUPPORTED_VERSION', `${what}, and its seal verifies; nothing was imported`, { hint })
}

/**
 * Import a block file with its seal, from a peer or from disk: take a private copy, run the
 * intrinsic checks outside the lock, then validate on the parent and store it under the lock.
 */
export async function importBlock (chain: Chain, file: string, seal: string, options: ImportOptions = {}): Promise<ImportResult> {
  const loaded = await loadBlock(chain, file, seal, options)
  try {
    return await acceptLoaded(chain, loaded, options)
  } finally {
    await discardLoaded(loaded)
  }
}

/** The lock-free half of an import: a private copy in tmp/ (renamed with `consume`), hashed and checked. */
export async function loadBlock (chain: Chain, file: string, seal: string, options: ImportOptions = {}): Promise<LoadedBlock> {
  const own = options.consume === true && isOwnTmp(chain, file)
  // Before anything opens it: a pipe would be copied as whatever it streams, or block. (Not a
  // download: the caller created it, exclusively, as a regular file in its private tmp/ name.)
  if (!(own && (options.hashed === true || options.written === true))) checkRegularInput(file, 'block file')
  const tmp = own ? file : tmpBlockPath(chain.dir)
  let meter: WorkMeter | undefined
  let size = options.size ?? -1
  try {
    try {
      if (size < 0 && (options.onProgress !== undefined || options.loadPool !== undefined)) size = (await stat(file)).size
      if (options.onProgress !== undefined) {
        meter = new WorkMeter(options.onProgress, size * (options.consume === true ? IMPORT_PASSES - 1 : IMPORT_PASSES))
        if (options.consume !== true) meter.stage('copying', size)
      }
      if (own) { /* already private, in place */ } else if (options.consume === true) await rename(file, tmp)
      else await copyFile(file, tmp, fsConstants.COPYFILE_FICLONE)
    } catch (err) {
      if (isNotFound(err)) throw new BlockError('FILE_NOT_FOUND', `no such file: ${file}`, { hint: 'check the path' })
      throw err
    }
    const knownHash = options.hashed === true && options.consume === true ? options.expectedHash : undefined
    // The caller's own download (its private tmp/ file, which it created exclusively and wrote, hashed
    // as written or left to the checks: `written`): SQLite may map it (BlockConnectionOptions.mapOwnDownload), never a user's path.
    const ownDownload = own && (knownHash !== undefined || options.written === true)
    // Only for the caller's own download: its first bytes as written (a large single download comes without them).
    const head = ownDownload && options.head !== undefined && options.size !== undefined ? { bytes: options.head, size: options.size } : undefined
    if (options.loadPool !== undefined && size <= POOLED_LOAD_MAX_BYTES) {
      meter?.stage('checking', size * LOAD_PASSES)
      // A larger block's flushes run on the load thread, overlapping the next checks; a small
      // block's are left to the group, whose flushes of many small files cost less CPU in all
      // than one each on the threads (catch-up of 7 KiB blocks 8–18 % faster, docs/performance.md);
      // its `.sig` is only written there, so that the main thread does not create it.
      const prepare = size >= PREPARE_ON_THREAD_MIN_BYTES
      const r = await options.loadPool.load(chain, tmp, seal, { expectedHash: options.expectedHash, knownHash, head, ownDownload, sealChecked: options.sealChecked, signal: options.signal, prepare, writeSeal: !prepare, size })
      return { candidate: r.candidate, tmp, meter, prepared: r.prepared, sealWritten: r.sealWritten }
    }
    const candidate = await loadCandidate(tmp, seal, { maxBytes: chain.params.maxBlockBytes, expectedHash: options.expectedHash, knownHash, head, ownDownload, pool: chain.hashPool, signal: options.signal, meter })
    return { candidate, tmp, meter }
  } catch (err) {
    await discardLoaded({ tmp })
    throw err
  }
}

/** A private file of this process in the data directory's tmp/ (tmpBlockPath's names). */
function isOwnTmp (chain: Chain, file: string): boolean {
  return dirname(file) === chain.dir.tmpDir && basename(file).startsWith(tmpOwnPrefix())
}

/** Delete a loaded block's private copy (a no-op once placement has moved it). */
export async function discardLoaded (b: Pick<LoadedBlock, 'tmp'>): Promise<void> {
  // unlink, not rm: a private file, and rm's checks cost more than the unlink itself.
  for (const p of [b.tmp, sealPathOf(b.tmp)]) await unlink(p).catch((err: unknown) => { if (!isNotFound(err)) throw err })
}

/** The locked half of an import, one block on its own: known (or repaired), extended, side or reorg. */
export async function acceptLoaded (chain: Chain, b: LoadedBlock, options: LockOptions = {}): Promise<ImportResult> {
  const c = b.candidate
  if (c.file.header.version === 1) refuseV1(chain, c)
  const known = chain.index.byHash(c.hash)
  if (known !== undefined) {
    // A good copy of a block stored here: if the stored file is damaged or missing, put it back.
    if (await damageOf(known, chain.pathOf(known), options.signal) === undefined) return { status: 'known', block: known }
    await restoreBlock(chain, known, b.tmp, options)
    return { status: 'repaired', block: known }
  }
  checkImportable(chain, c)
  // Validating on the parent is quick; placing the file means syncing all of it to disk.
  b.meter?.stage('storing', c.file.size)
  const r = await writeTx(chain, async tx => {
    // Tests hold an import here, under the write lock, before its placement (a reorg about to happen).
    await pausepoint('import:locked', options.signal)
    return acceptCandidate(chain, c, b.tmp, tx)
  }, { work: `import block ${c.file.header.height} ${c.hash.slice(0, 12)}`, ...options, placesBlocks: true })
  b.meter?.finish()
  return r
}

/** Refusals that do not depend on the parent: v1 blocks and other chains' genesis blocks. */
export function checkImportable (chain: Chain, c: Candidate): void {
  if (c.file.header.version !== 2) {
    throw new BlockError('UNSUPPORTED_VERSION', `block version ${c.file.header.version} cannot be imported into a v2 chain`, { hint: 'v1 (Daisy) blocks can be read and verified, not imported' })
  }
  if (c.file.header.height === 0) {
    throw new ChainError('GENESIS_MISMATCH', `block ${c.hash} is the genesis of another chain`, { hint: 'this data directory holds chain ' + chain.chainId })
  }
}
