import { copyFile, rename, rm, stat } from 'node:fs/promises'
import { constants as fsConstants } from 'node:fs'
import { BlockError, checkRegularInput } from '../block/index.js'
import { sealPathOf, tmpBlockPath, type LockOptions } from '../storage/index.js'
import { WorkMeter, type OnWorkProgress } from '../util/index.js'
import { acceptCandidate, type ImportResult } from './accept.js'
import type { Chain } from './chain.js'
import { ChainError } from './errors.js'
import { damageOf, restoreBlock } from './repair.js'
import { LOAD_PASSES, loadCandidate } from './validate/index.js'
import { writeTx } from './write-tx.js'
import { errorCode } from '../util/index.js'

export interface ImportOptions extends LockOptions {
  /** The hash the block was announced or requested with. */
  expectedHash?: string
  /** Take ownership of `file` (rename it) instead of copying it; for files already in tmp/. */
  consume?: boolean
  /** Work done, in bytes: copying, hashing, checking, hashing rows, storing (IMPORT_PASSES passes over the file). */
  onProgress?: OnWorkProgress
}

/** Passes over the file importBlock makes when it copies it, for a progress total across several imports. */
export const IMPORT_PASSES = LOAD_PASSES + 2

/**
 * Import a block file with its seal, from a peer or from disk: take a private copy, run the
 * intrinsic checks outside the lock, then validate on the parent and store it under the lock.
 */
export async function importBlock (chain: Chain, file: string, seal: string, options: ImportOptions = {}): Promise<ImportResult> {
  // Before anything opens it: a pipe would be copied as whatever it streams, or block.
  checkRegularInput(file, 'block file')
  const tmp = tmpBlockPath(chain.dir)
  let meter: WorkMeter | undefined
  try {
    try {
      if (options.onProgress !== undefined) {
        const size = (await stat(file)).size
        meter = new WorkMeter(options.onProgress, size * (options.consume === true ? IMPORT_PASSES - 1 : IMPORT_PASSES))
        if (options.consume !== true) meter.stage('copying', size)
      }
      if (options.consume === true) await rename(file, tmp)
      else await copyFile(file, tmp, fsConstants.COPYFILE_FICLONE)
    } catch (err) {
      if (errorCode(err) === 'ENOENT') throw new BlockError('FILE_NOT_FOUND', `no such file: ${file}`, { hint: 'check the path' })
      throw err
    }
    const c = await loadCandidate(tmp, seal, { maxBytes: chain.params.maxBlockBytes, expectedHash: options.expectedHash, pool: chain.hashPool, signal: options.signal, meter })
    const known = chain.index.byHash(c.hash)
    if (known !== undefined) {
      // A good copy of a block stored here: if the stored file is damaged or missing, put it back.
      if (await damageOf(known, chain.pathOf(known), options.signal) === undefined) return { status: 'known', block: known }
      await restoreBlock(chain, known, tmp, options)
      return { status: 'repaired', block: known }
    }
    if (c.file.header.version !== 2) {
      throw new BlockError('UNSUPPORTED_VERSION', `block version ${c.file.header.version} cannot be imported into a v2 chain`, { hint: 'v1 (Daisy) blocks can be read and verified, not imported' })
    }
    if (c.file.header.height === 0) {
      throw new ChainError('GENESIS_MISMATCH', `block ${c.hash} is the genesis of another chain`, { hint: 'this data directory holds chain ' + chain.chainId })
    }
    // Validating on the parent is quick; placing the file means syncing all of it to disk.
    meter?.stage('storing', c.file.size)
    const r = await writeTx(chain, async tx => acceptCandidate(chain, c, tmp, tx), { work: `import block ${c.file.header.height} ${c.hash.slice(0, 12)}`, ...options })
    meter?.finish()
    return r
  } finally {
    await rm(tmp, { force: true })
    await rm(sealPathOf(tmp), { force: true })
  }
}
