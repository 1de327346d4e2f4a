import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { checkDataFile, clearOwnWriterRecord, DataDir, IndexDb, indexUnusable, listForkFiles, readChainParams, readSeal, REINDEX_WORK, WRITER_RECORD, writeWriterRecord, type LockOptions } from '../storage/index.js'
import { isPetalError, isRecord, pausepoint, type PetalError } from '../util/index.js'
import { Chain, consensusJson, type ChainOptions } from './chain.js'
import { appendToChainTree } from './chain-tree.js'
import { blockRecordOf } from './block-record.js'
import { recordDaisyCommitment } from './daisy-commitment.js'
import { replayChain, type ReplayProgress } from './replay.js'
import { loadCandidate, validateOnParent } from './validate/index.js'
import { writeTx } from './write-tx.js'

export interface ReindexOptions extends ChainOptions, Pick<LockOptions, 'timeoutMs' | 'onWait'> {
  deep?: boolean
  workers?: number
  signal?: AbortSignal
  onProgress?: (p: ReplayProgress) => void
}

export interface ReindexReport { blocks: number, sideBlocks: number, skippedSideBlocks: number, tipHeight: number, tipHash: string }

/**
 * Rebuild chain.db from the block files: replay the canonical files from genesis (every block
 * re-validated), then re-attach valid side-branch files from forks/. One transaction: readers see
 * the old index until the new one is complete. A corrupt index file is replaced.
 */
export async function reindexChain (root: string, o: ReindexOptions = {}): Promise<ReindexReport> {
  const dir = new DataDir(root)
  const params = readChainParams(dir.chainParams)
  const { index, replaced } = openOrReplace(dir)
  const record = join(dir.root, WRITER_RECORD)
  const chain = Chain.attach(dir, params, index, o)
  try {
    if (replaced) await pausepoint('reindex:replaced', o.signal)
    return await writeTx(chain, async () => {
      index.clear()
      index.setMeta('consensus', consensusJson(params))
      const now = chain.clock.now()
      // Count the canonical files first (one stat each) so progress has a total.
      let last = -1
      while (existsSync(dir.blockPath(last + 1))) last++
      const r = await replayOrSay(chain, replaced, {
        toHeight: last,
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
      return { blocks: r.blocks, sideBlocks: side.attached, skippedSideBlocks: side.skipped, tipHeight: tip.height, tipHash: tip.hash }
    }, { signal: o.signal, timeoutMs: o.timeoutMs, onWait: o.onWait, work: REINDEX_WORK, recordHeld: replaced })
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
 * reader gets, while another live reindex is filling it.
 */
function openOrReplace (dir: DataDir): { index: IndexDb, replaced: boolean } {
  let unusable: PetalError
  if (existsSync(dir.chainDb)) {
    try {
      return { index: IndexDb.open(dir.chainDb), replaced: false }
    } catch (err) {
      // Only an index SQLite cannot read is replaced: one that is busy (another writer) or that this
      // user cannot write is someone else's to keep.
      if (!isPetalError(err) || err.code !== 'INDEX_CORRUPT') throw err
      unusable = err
    }
  } else {
    unusable = indexUnusable(dir.chainDb, `the chain index ${dir.chainDb} is missing`)
  }
  if (isRecord(unusable.details) && unusable.details.rebuilder !== undefined) throw unusable
  const record = join(dir.root, WRITER_RECORD)
  writeWriterRecord(record, REINDEX_WORK)
  try {
    for (const f of [dir.chainDb, `${dir.chainDb}-wal`, `${dir.chainDb}-shm`]) rmSync(f, { force: true })
    return { index: IndexDb.open(dir.chainDb), replaced: true }
  } catch (err) {
    clearOwnWriterRecord(record)
    throw err
  }
}

/** The replay, its first failure saying which block file it is (the code stays the block's). */
async function replayOrSay (chain: Chain, replaced: boolean, o: Parameters<typeof replayChain>[1]): Promise<Awaited<ReturnType<typeof replayChain>>> {
  try {
    return await replayChain(chain, o)
  } catch (err) {
    const height = isPetalError(err) && isRecord(err.details) ? err.details.height : undefined
    if (isPetalError(err) && err.code !== 'ABORTED' && typeof height === 'number') {
      const path = chain.dir.blockPath(height)
      err.message = `block ${height}${err.message.includes(path) ? '' : ` (${path})`}: ${err.message}${replaced ? '' : '; chain.db is left as it was'}`
    }
    throw err
  }
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
