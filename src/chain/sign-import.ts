import { rm } from 'node:fs/promises'
import { buildBlock, type KeyOpRow } from '../block/index.js'
import type { SigningKey } from '../crypto/index.js'
import { tmpBlockPath, type LockOptions } from '../storage/index.js'
import { formatTimestamp } from '../util/index.js'
import { acceptCandidate, type ImportResult } from './accept.js'
import type { Chain } from './chain.js'
import { loadCandidate } from './validate/index.js'
import { writeTx } from './write-tx.js'

export interface SignImportOptions extends LockOptions {
  /** Endorsements (`petal signkey` output) to put in the block's `_keys`. */
  keyOps?: KeyOpRow[]
  /** Build from this file's content but replace its `_keys` rows by `keyOps` (re-sealing). */
  replaceKeyOps?: boolean
}

/**
 * `signimportblock`: build a block from the user's SQLite file on top of the current tip, seal it
 * with `key`, and import it through the same validation as a block from the network. The user's
 * file is only read. Holding the write lock from reading the tip to committing means two
 * concurrent callers end up one after the other, never both on the same parent.
 */
export async function signImport (chain: Chain, source: string | undefined, key: SigningKey, options: SignImportOptions = {}): Promise<ImportResult> {
  chain.assertCanSign(key)
  return await writeTx(chain, async tx => {
    const tip = chain.tip()
    chain.assertCanSign(key, chain.keysAt(tip))
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
        maxBytes: chain.params.maxBlockBytes,
        signal: options.signal
      })
      const c = await loadCandidate(tmp, built.seal, { maxBytes: chain.params.maxBlockBytes, expectedHash: built.hash, signal: options.signal })
      return acceptCandidate(chain, c, tmp, tx)
    } finally {
      await rm(tmp, { force: true })
      await rm(tmp.replace(/\.db$/, '.sig'), { force: true })
    }
  }, options)
}
