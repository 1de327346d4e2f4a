import { existsSync } from 'node:fs'
import { BlockError, type GenesisParams, type TableRootPool } from '../block/index.js'
import type { SigningKey } from '../crypto/index.js'
import { DataDir, IndexDb, indexUnusable, readChainParams, StorageError, type BlockRecord, type ChainParams } from '../storage/index.js'
import { errorMessage, nullLogger, systemClock, type Clock, type Logger } from '../util/index.js'
import { ChainError } from './errors.js'
import { KeyState } from './key-state.js'
import { recoverNow } from './recover.js'
import type { ParentContext } from './validate/index.js'

/** How far ahead of the local clock a block's timestamp may be (clock skew between signers). */
export const MAX_FUTURE_MS = 5 * 60_000

export interface ChainOptions {
  logger?: Logger
  clock?: Clock
  /**
   * Open the index read-only, for commands that only read: the connection never waits for a
   * writer (or makes one wait), and any write fails. Leftovers of a crashed writer are still
   * repaired when the directory is writable and no writer is live, through a short-lived
   * writable connection that never waits.
   */
  readonly?: boolean
  /**
   * Worker threads that hash large tables when blocks are built or checked. The caller (the
   * composition root) owns it and closes it after the chain; without one, rows are hashed on the
   * calling thread.
   */
  hashPool?: TableRootPool
}

/**
 * One chain in one data directory: read access to its index and key state, plus the context
 * every write operation (import, sign-import, reseal, reindex) works in. Writes live in their
 * own files and serialise on the index's write lock.
 */
export class Chain {
  private constructor (
    readonly dir: DataDir,
    readonly params: ChainParams,
    readonly index: IndexDb,
    readonly logger: Logger,
    readonly clock: Clock,
    readonly hashPool: TableRootPool | undefined
  ) {}

  /** Open an existing chain. Cost does not depend on chain length. */
  static open (root: string, options: ChainOptions = {}): Chain {
    const dir = new DataDir(root)
    const params = readChainParams(dir.chainParams)
    if (!existsSync(dir.chainDb)) {
      throw indexUnusable(dir.chainDb, `the chain index ${dir.chainDb} is missing`)
    }
    const index = IndexDb.open(dir.chainDb, { readonly: options.readonly })
    const chain = new Chain(dir, params, index, options.logger ?? nullLogger, options.clock ?? systemClock, options.hashPool)
    try {
      chain.checkAgainstGenesis()
      // A crashed writer leaves a journal or a file above the tip. Repair now, so that readers
      // never see files that disagree with the index; a live writer holds the lock and is left be.
      const tip = index.tip()
      // (Above the tip of a Daisy directory's state are Daisy's newer blocks, not a crashed import.)
      if (existsSync(dir.journal) || (tip !== undefined && dir.daisySource === undefined && existsSync(dir.blockPath(tip.height + 1))) || (tip !== undefined && index.tree.size !== tip.height + 1)) {
        if (options.readonly !== true) recoverNow(chain)
        else repairQuietly(dir, params, options)
      }
    } catch (err) {
      index.close()
      throw err
    }
    return chain
  }

  /** @internal for genesis creation and reindex, which build the index themselves. */
  static attach (dir: DataDir, params: ChainParams, index: IndexDb, options: ChainOptions = {}): Chain {
    return new Chain(dir, params, index, options.logger ?? nullLogger, options.clock ?? systemClock, options.hashPool)
  }

  private checkAgainstGenesis (): void {
    const g = this.index.byHeight(0)
    if (g === undefined) throw indexUnusable(this.dir.chainDb, `the chain index ${this.dir.chainDb} is empty`)
    if (g.hash !== this.params.genesisHash) {
      throw new ChainError('GENESIS_MISMATCH', `the index's genesis ${g.hash} is not chainparams.json's ${this.params.genesisHash}`, { hint: 'run `petal reindex`, or check that chainparams.json belongs to this directory' })
    }
    const consensus = this.index.getMeta('consensus')
    if (consensus !== undefined && consensus !== consensusJson(this.params)) {
      throw new StorageError('CHAINPARAMS_INVALID', 'chainparams.json disagrees with the consensus parameters committed in the genesis block', { hint: 'restore the original chainparams.json' })
    }
  }

  close (): void {
    this.index.close()
  }

  get chainId (): string {
    return this.params.genesisHash
  }

  tip (): BlockRecord {
    const t = this.index.tip()
    if (t === undefined) throw new ChainError('EMPTY_CHAIN', 'the chain has no blocks', { hint: 'run `petal reindex`' })
    return t
  }

  /** A block by height (canonical), full hash, or unique hash prefix of at least 8 digits (a height first when all are decimal). */
  get (ref: number | string): BlockRecord | undefined {
    if (typeof ref === 'number') return this.index.byHeight(ref)
    if (/^\d+$/.test(ref)) {
      // A hash prefix can be all digits (about 1 in 100 eight-digit ones): a height wins, and when
      // there is no block at that height, a long enough ref is tried as a prefix.
      const atHeight = this.index.byHeight(Number(ref))
      if (atHeight !== undefined || ref.length < 8) return atHeight
    }
    if (/^[0-9a-f]{64}$/.test(ref)) return this.index.byHash(ref)
    if (/^[0-9a-f]{8,63}$/.test(ref)) {
      const found = this.index.byHashPrefix(ref, 2)
      return found.length === 1 ? found[0] : undefined
    }
    return undefined
  }

  /** Where a stored block's file is. */
  pathOf (b: BlockRecord): string { return this.fileAt(b.height, b.canonical, b.hash) }

  /** Where the file of a block stored at `height` is: canonical, by height; on a side branch, by hash. */
  fileAt (height: number, canonical: boolean, hash: string): string { return canonical ? this.dir.blockPath(height) : this.dir.forkPath(hash) }

  /** The signatory set after block `b`, which may be on a side branch. */
  keysAt (b: BlockRecord): KeyState {
    const sides: BlockRecord[] = []
    let x: BlockRecord | undefined = b
    while (x !== undefined && !x.canonical) {
      sides.push(x)
      x = this.index.byHash(x.parent)
    }
    if (x === undefined) throw new ChainError('BLOCK_NOT_FOUND', `side branch of ${b.hash} does not reach the canonical chain`)
    let ks = KeyState.fromRecords(this.index.signers(), x.height)
    for (const s of sides.reverse()) ks = ks.apply(this.index.keyOpsOf(s.hash), s.height)
    return ks
  }

  /** The immutable view a child of `parent` is validated against. */
  contextAt (parent: BlockRecord, now: number | undefined = this.clock.now()): ParentContext {
    return {
      chainId: this.chainId,
      parent: { hash: parent.hash, height: parent.height, time: Date.parse(parent.timestamp) },
      keys: this.keysAt(parent),
      quorumRule: this.params.quorumRule,
      now,
      maxFutureMs: MAX_FUTURE_MS
    }
  }

  /** Refuse early when `key` cannot sign on top of the current tip. */
  assertCanSign (key: SigningKey, keys: KeyState = this.keysAt(this.tip())): void {
    const s = keys.get(key.id)
    if (s === undefined) {
      throw new BlockError('SIGNER_NOT_AUTHORISED', `key ${key.id} is not a signatory of this chain`, {
        details: { signer: key.id },
        hint: 'send its public key (`petal mykeys` prints it) to the signatories: enough of them (the quorum) run `petal signkey PUBKEY --op add -o e1.json`, and one seals the endorsements with `petal signimportblock --keyops e1.json --keyops e2.json …`'
      })
    }
    if (s.revokedAt !== null) throw new BlockError('SIGNER_REVOKED', `key ${key.id} was revoked at height ${s.revokedAt}`, { details: { signer: key.id, revokedAt: s.revokedAt }, hint: 'a revoked key never signs again: generate a new one (`petal keygen`) and have the signatories add it' })
  }
}

/**
 * For a reader: run recovery through a writable connection if the directory can be written and no
 * writer holds the lock right now; otherwise leave it to the next writer. Never waits.
 */
function repairQuietly (dir: DataDir, params: ChainParams, options: ChainOptions): void {
  let index: IndexDb
  try {
    index = IndexDb.open(dir.chainDb, { wait: false })
  } catch {
    return
  }
  try {
    const chain = Chain.attach(dir, params, index, options)
    recoverNow(chain)
  } catch (err) {
    (options.logger ?? nullLogger).debug('left the repair of a crashed write to the next writer', { error: errorMessage(err) })
  } finally {
    index.close()
  }
}

/** The consensus parameters as the index records them (compared with chainparams.json on open). */
export function consensusJson (p: GenesisParams): string {
  return JSON.stringify({ quorumRule: p.quorumRule, maxBlockBytes: p.maxBlockBytes, maxReorgDepth: p.maxReorgDepth })
}
