import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { buildBlock, GENESIS_PREVIOUS_HASH, signKeyOp } from '../block/index.js'
import { parsePublicKey, type SigningKey } from '../crypto/index.js'
import {
  DataDir, IndexDb, StorageError, placeBlock, sealPathOf, tmpBlockPath, writeChainParams,
  type ChainParams, type NewChainInput
} from '../storage/index.js'
import { failpoint, formatTimestamp, pausepoint, parseRfc3339, removeStaleTemps } from '../util/index.js'
import { Chain, consensusJson, MAX_FUTURE_MS, type ChainOptions } from './chain.js'
import { ChainError } from './errors.js'
import { checkGenesis, loadCandidate } from './validate/index.js'
import { appendToChainTree } from './chain-tree.js'
import { blockRecordOf } from './block-record.js'
import { recordDaisyCommitment } from './daisy-commitment.js'

// What may already be in a directory that gets a new chain: the operator's keys and node identity,
// a README (the repository's blocks/ has one),
// and leftovers of an initialisation that crashed before writing chainparams.json: the index, the
// placed genesis, the write lock's writer.json (a kill inside the genesis's transaction), the
// temporaries of an atomic write cut short (chainparams.json's own, writer.json's), and the Daisy
// history and its state that an adoption copies before its genesis (a killed one's: without
// chainparams.json they continue no chain, and an init's genesis must not stand beside them).
// node.lock: held by the init, newchain or adopt-daisy making the chain (or by a look at it), never removed;
// node-state.lock likewise, by a pull's writer of node-state.json (a pull that failed before its chain).
const LOCKS = new Set(['node.lock', 'node.lock-journal', 'node-state.lock', 'node-state.lock-journal'])
const KEEP = new Set(['keystore', 'node.key', ...LOCKS, 'README.md', '.gitkeep'])
const LEFTOVERS = new Set(['0000', 'chain.db', 'chain.db-wal', 'chain.db-shm', 'chain.db-journal', 'chain.db-tip', 'index-tip.json', 'tmp', 'journal.json', 'query.db', 'query.db-wal', 'query.db-shm', 'query.db-journal', 'writer.json', 'daisy', 'daisy-state'])
const DAISY = new Set(['daisy', 'daisy-state'])
// The temporaries of their atomic writes, named `<file>.n<ns>.<pid>[.<hex>].tmp` since session 51
// (util/stale-temps.ts: tempTag, atomicTempPath), `<file>.<pid>[.<hex>].tmp` before; node.key's
// too, which a first pull writes before its chain (a pull killed then was refused
// DATA_DIR_NOT_EMPTY on its resume: review55's crash torture, seed 5522).
const LEFTOVER_TEMP = /^(chainparams\.json|writer\.json|journal\.json|node\.key|chain\.db-tip|index-tip\.json)(\.n[0-9]+)?\.[0-9]+(\.[0-9a-f]{8})?\.tmp$/
const isLeftover = (name: string): boolean => LEFTOVERS.has(name) || LEFTOVER_TEMP.test(name)

/**
 * Refuse `dir` for a new chain unless it is absent or holds nothing but keys, node.key, the lock
 * and leftovers of a crashed init; changes nothing (a command checks before it takes node.lock).
 */
export function checkEmptyDir (dir: DataDir): string[] {
  if (!existsSync(dir.root)) return []
  if (existsSync(dir.chainParams)) {
    throw new StorageError('DATA_DIR_NOT_EMPTY', `${dir.root} already holds a chain`, { hint: 'choose another --dir, or remove the directory first' })
  }
  const names = readdirSync(dir.root)
  const foreign = names.filter(n => !KEEP.has(n) && !isLeftover(n))
  if (foreign.length > 0) {
    throw new StorageError('DATA_DIR_NOT_EMPTY', `${dir.root} is not empty (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''})`, { hint: 'give an empty or new directory with --dir' })
  }
  return names
}

/** Make `dir` ready for a new chain: create it, or check it as checkEmptyDir does and remove the leftovers of a crashed init. */
export function prepareEmptyDir (dir: DataDir, o: { keepDaisy?: boolean } = {}): void {
  if (!existsSync(dir.root)) { mkdirSync(dir.root, { recursive: true, mode: 0o755 }); return }
  const names = checkEmptyDir(dir)
  // keepDaisy: the genesis of an adoption, whose copy of the history is made.
  for (const n of names) if (isLeftover(n) && !(o.keepDaisy === true && DAISY.has(n))) rmSync(join(dir.root, n), { recursive: true, force: true })
  // The key a crashed init generated stays; a cut-short write of its file or of `default` leaves a temporary.
  removeStaleTemps(dir.keystore)
}

/**
 * Remove `dir.root`, which a creation that failed had made, if nothing but the files a creation
 * makes is in it (node.lock, a crashed init's leftovers; its keystore is removed before): another
 * process may have put its own there meanwhile (a `petal keygen`'s key), which stays, and the
 * directory with it.
 */
export function removeMadeDir (dir: DataDir): void {
  let names: string[]
  try { names = readdirSync(dir.root) } catch { return }
  if (names.every(n => LOCKS.has(n) || isLeftover(n))) rmSync(dir.root, { recursive: true, force: true })
}

/**
 * `newchain`: build and seal a genesis block with `key` as the only signatory, then write the
 * data directory. chainparams.json is written last: until it exists the directory holds no chain,
 * so a crash part-way leaves something `newchain` simply redoes.
 */
export async function createChain (root: string, input: NewChainInput, key: SigningKey, options: ChainOptions = {}): Promise<Chain> {
  const dir = new DataDir(root)
  const now = options.clock?.now() ?? Date.now()
  const ts = input.genesisTimestamp === undefined ? now : parseRfc3339(input.genesisTimestamp)
  if (ts === undefined) throw new StorageError('CHAINPARAMS_INVALID', 'genesis_block_timestamp must be an RFC 3339 timestamp', { hint: 'e.g. 2026-01-31T12:00:00Z' })
  // Every block's time is at least its parent's: a genesis in the future would freeze the chain.
  if (ts > now + MAX_FUTURE_MS) {
    throw new StorageError('CHAINPARAMS_INVALID', `genesis_block_timestamp ${input.genesisTimestamp ?? ''} is in the future: no block could follow it until then`, { hint: 'leave it out (now is used) or give a past time' })
  }
  prepareEmptyDir(dir, { keepDaisy: input.daisy !== undefined })
  // Tests hold an init here, its directory cleared and its genesis not yet made.
  await pausepoint('genesis:cleared')
  const tmp = tmpBlockPath(dir)
  try {
    const built = await buildBlock({
      source: input.genesisDb,
      output: tmp,
      key,
      chainId: '',
      height: 0,
      previousHash: GENESIS_PREVIOUS_HASH,
      timestamp: formatTimestamp(ts),
      creatorName: input.creator === '' ? undefined : input.creator,
      description: input.description === '' ? undefined : input.description,
      genesis: input.consensus,
      daisy: input.daisy,
      keyOps: [signKeyOp(key, '', 'A', key.publicKey), ...(input.signatories ?? []).filter(k => k.id !== key.id).map(k => signKeyOp(key, '', 'A', parsePublicKey(k.publicKey)))],
      replaceKeyOps: true,
      maxBytes: input.consensus.maxBlockBytes,
      pool: options.hashPool,
      // A genesis without data is tiny; Daisy's smallest page size keeps it a few KiB.
      pageSize: 512
    })
    const params: ChainParams = {
      genesisHash: built.hash,
      genesisSeal: built.seal,
      genesisTimestamp: built.header.timestamp,
      creator: input.creator,
      creatorPublicKey: key.id,
      description: input.description,
      bootstrapPeers: input.bootstrapPeers,
      ...input.consensus
    }
    return await installGenesis(dir, params, tmp, options)
  } finally {
    rmSync(tmp, { force: true })
    rmSync(sealPathOf(tmp), { force: true })
  }
}

/**
 * Validate a genesis file against chain parameters (its hash, seal and the consensus values it
 * commits to) and make `dir` a data directory of that chain. Used by newchain and by pull.
 */
export async function installGenesis (dir: DataDir, params: ChainParams, genesisFile: string, options: ChainOptions = {}): Promise<Chain> {
  const c = await loadCandidate(genesisFile, params.genesisSeal, { maxBytes: params.maxBlockBytes, expectedHash: params.genesisHash, pool: options.hashPool })
  const ops = checkGenesis(c, params.genesisHash)
  const g = c.file.header.genesis
  if (g === undefined || consensusJson(g) !== consensusJson(params)) {
    throw new ChainError('GENESIS_MISMATCH', 'chain parameters disagree with the consensus values in the genesis block', { hint: 'the chainparams.json does not belong to this genesis' })
  }
  mkdirSync(dir.root, { recursive: true })
  const index = IndexDb.open(dir.chainDb)
  // checkGenesis made sure it is a v2 block at height 0.
  const record = blockRecordOf(c, ops, true, options.clock?.now() ?? Date.now())
  try {
    await index.withWriteLock(async () => {
      index.clear()
      placeBlock(genesisFile, dir.blockPath(0), c.seal)
      failpoint('genesis:placed')
      index.insertBlock(record, c.file.tables, ops)
      index.applyKeyOps(0, ops)
      appendToChainTree(index, record)
      index.setMeta('consensus', consensusJson(params))
      recordDaisyCommitment(index, record.hash, c.file.header.daisy)
    }, { rebuilds: true })
    writeChainParams(dir.chainParams, params)
  } catch (err) {
    index.close()
    throw err
  }
  return Chain.attach(dir, params, index, options)
}
