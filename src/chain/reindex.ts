import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { checkDataFile, clearOwnWriterRecord, DataDir, IndexDb, indexUnusable, lastBlockFile, listForkFiles, NodeLock, readChainParams, readSeal, REINDEX_LOCK, REINDEX_WORK, StorageError, WRITER_RECORD, writeWriterRecord, type LockOptions } from '../storage/index.js'
import { isPetalError, isRecord, pausepoint, shellWord, type PetalError } from '../util/index.js'
import { Chain, consensusJson, type ChainOptions } from './chain.js'
import { appendToChainTree } from './chain-tree.js'
import { blockRecordOf } from './block-record.js'
import { recordDaisyCommitment } from './daisy-commitment.js'
import { replayChain, type ReplayProgress } from './replay.js'
import { loadCandidate, validateOnParent } from './validate/index.js'
import { writeTx } from './write-tx.js'

export interface ReindexOptions extends ChainOptions, Pick<LockOptions, 'timeoutMs' | 'onWait'> {
  deep?: boolean
  /**
   * Accept the loss of the blocks the old index holds above the top block file (their files
   * missing, none above them): rebuilt up to that file. Without it such a reindex is refused.
   */
  truncate?: boolean
  workers?: number
  signal?: AbortSignal
  onProgress?: (p: ReplayProgress) => void
}

export interface ReindexReport {
  blocks: number
  sideBlocks: number
  skippedSideBlocks: number
  tipHeight: number
  tipHash: string
  /** With `truncate`: the blocks the old index held above the files, dropped (first height and hash, the old tip's height). */
  dropped?: { height: number, hash: string, toHeight: number }
}

/**
 * Rebuild chain.db from the block files: replay the canonical files from genesis (every block
 * re-validated), then re-attach valid side-branch files from forks/. One transaction: readers see
 * the old index until the new one is complete. A corrupt index file is replaced.
 */
export async function reindexChain (root: string, o: ReindexOptions = {}): Promise<ReindexReport> {
  const dir = new DataDir(root)
  const params = readChainParams(dir.chainParams)
  const { index, replaced } = await openOrReplace(dir, o.signal)
  const record = join(dir.root, WRITER_RECORD)
  // verify --repair fetches again only the blocks the old index holds: none of a chain.db replaced
  // now, nor of one an earlier reindex left empty (replaced, then stopped), which the next reindex
  // rebuilds in place, nor those above an older index's tip. Those said verify --repair, which
  // refused the empty index or found nothing damaged (review55).
  const knownTo = replaced ? -1 : index.tip()?.height ?? -1
  const chain = Chain.attach(dir, params, index, o)
  try {
    if (replaced) await pausepoint('reindex:replaced', o.signal)
    return await writeTx(chain, async () => {
      // Count the canonical files first (one stat each) so progress has a total.
      let last = -1
      while (existsSync(dir.blockPath(last + 1))) last++
      // Files above a missing one: replayed up to it, which stops there with BLOCK_FILE_MISSING. The
      // replay stopped silently at the gap until review54, and the chain fell to the block below it
      // (a Daisy directory's files above its tip are Daisy's own, as recover() leaves them).
      const above = dir.daisySource === undefined ? lastBlockFile(dir, last + 2) : last
      const dropped = above > last + 1 || last < 0 ? undefined : lostTop(chain, knownTo, last, o.truncate === true)
      index.clear()
      index.setMeta('consensus', consensusJson(params))
      const now = chain.clock.now()
      // No genesis file: replayed to it too, which stops with BLOCK_FILE_MISSING. With none, the
      // empty index failed EMPTY_CHAIN, whose hint is to run `petal reindex` again (review55).
      const top = above > last + 1 ? above : Math.max(last, 0)
      const r = await replayOrSay(chain, knownTo, {
        toHeight: top,
        deep: o.deep,
        workers: o.workers,
        signal: o.signal,
        onProgress: o.onProgress,
        onBlock: (c, ops) => {
          const record = blockRecordOf(c, ops, true, now)
          index.insertBlock(record, c.file.tables, ops)
          index.applyKeyOps(record.height, ops)
          appendToChainTree(index, record)
          if (record.height === 0) recordDaisyCommitment(index, record.hash, c.file.header.daisy)
        }
      })
      await pausepoint('reindex:locked', o.signal)
      const side = await reattachForks(chain, now)
      const tip = chain.tip()
      chain.logger.info('reindexed chain', { blocks: r.blocks, side: side.attached, tip: tip.height })
      if (dropped !== undefined) chain.logger.warn('dropped the blocks the old index held above the last block file (--truncate)', { from: dropped.height, hash: dropped.hash, to: dropped.toHeight })
      return { blocks: r.blocks, sideBlocks: side.attached, skippedSideBlocks: side.skipped, tipHeight: tip.height, tipHash: tip.hash, ...(dropped === undefined ? {} : { dropped }) }
      // A leftover journal is judged by the files where this index cannot judge it (recover's judges).
    }, { signal: o.signal, timeoutMs: o.timeoutMs, onWait: o.onWait, work: REINDEX_WORK, recordHeld: replaced, rebuilds: true, journalByFiles: true })
  } finally {
    chain.close()
    if (replaced) clearOwnWriterRecord(record)
  }
}

/**
 * chain.db to rebuild. One that is missing, or that SQLite cannot read, is replaced by a new, empty
 * one, and writer.json names this reindex from before the old file is removed until the new one has
 * committed (the caller clears it): a reader that finds the index missing or empty is always told a
 * reindex is filling it (index-open-failure.ts), never to start one. Refused, with the same error a
 * reader gets, while another live reindex is filling it. The decision and the record are one claim
 * under reindex.lock: two reindexes that both found the file lost at the same instant take it in
 * turn, and the second, looking again, finds the first's record (mend29; a killed claimant's lock
 * is freed by the kernel, and its record names a dead process, which is ignored).
 */
async function openOrReplace (dir: DataDir, signal?: AbortSignal): Promise<{ index: IndexDb, replaced: boolean }> {
  const found = openUsable(dir)
  if (found instanceof IndexDb) return { index: found, replaced: false }
  await pausepoint('reindex:checked', signal)
  const claim = await NodeLock.acquire(dir.root, REINDEX_LOCK, { signal })
  try {
    // Again, now that no other reindex can claim: one may have claimed, or even finished, since.
    const now = openUsable(dir)
    if (now instanceof IndexDb) return { index: now, replaced: false }
    const record = join(dir.root, WRITER_RECORD)
    writeWriterRecord(record, REINDEX_WORK)
    try {
      for (const f of [dir.chainDb, `${dir.chainDb}-wal`, `${dir.chainDb}-shm`]) rmSync(f, { force: true })
      return { index: IndexDb.open(dir.chainDb), replaced: true }
    } catch (err) {
      clearOwnWriterRecord(record)
      throw err
    }
  } finally {
    claim.release()
  }
}

/**
 * The index, open, if it can be rebuilt in place; else why not (missing, or unreadable). Throws the
 * reader's error (INDEX_CORRUPT naming the rebuilder) when a live reindex is filling it: it is
 * missing or unreadable with that reindex's record, or it is that reindex's new file, still empty.
 */
function openUsable (dir: DataDir): IndexDb | PetalError {
  const found = existsSync(dir.chainDb) ? openOrWhy(dir.chainDb) : indexUnusable(dir.chainDb, `the chain index ${dir.chainDb} is missing`)
  if (found instanceof IndexDb) {
    if (!found.readsWhole()) {
      found.close()
      return indexUnusable(dir.chainDb, `the chain index ${dir.chainDb} has a page SQLite cannot read (quick_check)`)
    }
    if (found.byHeight(0) !== undefined) return found
    // Empty: another reindex's new file (refused below), or one a crash left (rebuilt in place).
    const empty = indexUnusable(dir.chainDb, `the chain index ${dir.chainDb} is empty`)
    if (!rebuilding(empty)) return found
    found.close()
    throw empty
  }
  if (rebuilding(found)) throw found
  return found
}

/** The index, or why SQLite cannot read it: only such an index is replaced; one that is busy (another writer) or that this user cannot write is someone else's to keep. */
function openOrWhy (path: string): IndexDb | PetalError {
  try {
    return IndexDb.open(path)
  } catch (err) {
    if (!isPetalError(err) || err.code !== 'INDEX_CORRUPT') throw err
    return err
  }
}

const rebuilding = (e: PetalError): boolean => isRecord(e.details) && e.details.rebuilder !== undefined

/** The replay, its first failure saying which block file it is (the code stays the block's). */
async function replayOrSay (chain: Chain, knownTo: number, o: Parameters<typeof replayChain>[1]): Promise<Awaited<ReturnType<typeof replayChain>>> {
  try {
    return await replayChain(chain, o)
  } catch (err) {
    const height = isPetalError(err) && isRecord(err.details) ? err.details.height : undefined
    if (isPetalError(err) && err.code !== 'ABORTED' && typeof height === 'number') {
      const path = chain.dir.blockPath(height)
      err.message = `block ${height}${err.message.includes(path) ? '' : ` (${path})`}: ${err.message}${knownTo < 0 ? '' : '; chain.db is left as it was'}`
      // A new chain.db knows no block to fetch again (verify --repair reads the index): the way left
      // is the file itself, or the chain up to the block below it (review54).
      if (height > knownTo && err.code === 'BLOCK_FILE_MISSING') {
        // The genesis has no block below it to rebuild up to: that hint reindexed to an empty
        // chain (EMPTY_CHAIN, "run `petal reindex`"), and pull refuses a directory without an index (review55).
        const daisy = chain.dir.daisySource
        const hint = daisy !== undefined
          // Petal's state of a Daisy directory: the file is Daisy's, and no Petal command fetches a
          // Daisy chain (pull speaks Petal's protocol), nor rebuilds below Daisy's own blocks. Until
          // session 56 the genesis's hint said `petal pull` here too.
          ? `put the Daisy block file back from a backup or another Daisy node's directory (it must hash to the value ${join(daisy, 'daisy.db')} records${height === 0 ? `: the chain's genesis, ${chain.params.genesisHash}` : ''}), then run \`petal --dir ${shellWord(daisy)} --state ${shellWord(chain.dir.root)} status\`, which rebuilds Petal's state of it (Petal can neither pull a Daisy chain nor reindex its state from its files)`
          : height === 0
            ? `restore it from a backup (the chain's genesis, ${chain.params.genesisHash} in chainparams.json), then run \`petal reindex\` again; or pull the chain into a new, empty data directory from a node that serves it (\`petal --dir NEW pull ADDR\`)`
            : `restore it from a backup, then run \`petal reindex\` again; or, to rebuild the chain up to block ${height - 1}, move the block files above it out of the data directory and run \`petal reindex\` again (a node then fetches the blocks from its peers)`
        throw new StorageError('BLOCK_FILE_MISSING', err.message, { hint, details: { height }, cause: err })
      }
    }
    throw err
  }
}

/**
 * The blocks the old index holds above `last`, the top block file (nothing above it): refused with
 * BLOCK_FILE_MISSING naming the first (height and hash) and how to get it back, unless `truncate`
 * accepts dropping them (returned). Rebuilt without a word, the chain fell to block `last`, and a
 * signatory then sealed another block at `last + 1`: a fork of its own making (review55).
 */
function lostTop (chain: Chain, knownTo: number, last: number, truncate: boolean): ReindexReport['dropped'] {
  if (knownTo <= last) return undefined
  const first = chain.index.byHeight(last + 1)
  if (first === undefined) return undefined
  const dropped = { height: first.height, hash: first.hash, toHeight: knownTo }
  if (truncate) return dropped
  const path = chain.dir.blockPath(first.height)
  const which = knownTo > first.height ? `blocks ${first.height} to ${knownTo}` : `block ${first.height}`
  throw new StorageError('BLOCK_FILE_MISSING', `the file of block ${first.height} (${first.hash}) is missing: ${path}; chain.db holds ${which}, above the last block file (${last}), so a reindex now would drop ${knownTo > first.height ? 'them' : 'it'}; chain.db is left as it was`, {
    // Petal's state of a Daisy directory: the file is Daisy's, which no Petal command fetches or
    // reindexes from (as replayOrSay's hint, c48b42d5); its state is rebuilt through the Daisy directory.
    hint: chain.dir.daisySource !== undefined
      ? `put the Daisy block file ${path} back from a backup or another Daisy node's directory, then run \`petal --dir ${shellWord(chain.dir.daisySource)} --state ${shellWord(chain.dir.root)} status\`, which rebuilds Petal's state of it`
      : `fetch it again with \`petal verify --repair\` (from known peers, \`--peer ADDR\` or \`--from DIR\`), or put a copy back (\`petal import FILE\`, or restore ${path} and its .sig from a backup), then run \`petal reindex\` again; or, to accept the loss, \`petal reindex --truncate\` rebuilds the chain up to block ${last} (a node then fetches ${which} again from peers that hold ${knownTo > first.height ? 'them' : 'it'}; a signatory that seals at height ${first.height} first makes a fork of its own)`,
    details: { height: first.height, hash: first.hash, indexTip: knownTo }
  })
}

/** Validate fork files against their (already indexed) parents until no more attach. */
async function reattachForks (chain: Chain, now: number): Promise<{ attached: number, skipped: number }> {
  let todo = listForkFiles(chain.dir)
  let attached = 0
  for (let progress = true; progress && todo.length > 0;) {
    progress = false
    const next: string[] = []
    for (const hash of todo) {
      const path = chain.dir.forkPath(hash)
      try {
        checkDataFile(path, 'side-branch block file')
        const c = await loadCandidate(path, readSeal(path), { maxBytes: chain.params.maxBlockBytes, expectedHash: hash, pool: chain.hashPool })
        const parent = chain.index.byHash(c.file.header.previousHash)
        if (parent === undefined) { next.push(hash); continue }
        const ops = validateOnParent(c, chain.contextAt(parent, undefined))
        chain.index.insertBlock(blockRecordOf(c, ops, false, now), c.file.tables, ops)
        attached++
        progress = true
      } catch (err) {
        if (!isPetalError(err)) throw err
        chain.logger.warn('skipping invalid side-branch file', { hash, code: err.code })
      }
    }
    todo = next
  }
  return { attached, skipped: listForkFiles(chain.dir).length - attached }
}
