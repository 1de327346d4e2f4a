import { existsSync, mkdirSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { Chain, ChainError, checkEmptyDir, IMPORT_PASSES, installGenesis, prepareEmptyDir, verifyChain, type VerifyReport } from '../chain/index.js'
import { blockTransferBudgetMs, fetchChainFromPeer, loadOrCreateNodeKey, parseDialAddress, type NetworkOptions } from '../network/index.js'
import { DataDir, sealPathOf, tmpBlockPath, type NodeLock } from '../storage/index.js'
import type { SigningKey } from '../crypto/index.js'
import { Notifier, SyncError, type SyncOptions, type SyncProgress } from '../sync/index.js'
import { TableRootPool } from '../block/index.js'
import { AbortError, errorMessage, nullLogger, pausepoint, type Logger, type WorkProgress } from '../util/index.js'
import { askEveryPeer, pulledCheckpoints, type AskedCheckpoints, type PulledCheckpoints } from './checkpoint-ask.js'
import { PetalNode } from './node.js'
import type { NodeOptions } from './options.js'
import { withPullHeap } from './pull-heap.js'
import { removeNodeState, writePullState } from './state-file.js'
import { takeCreateLock, takeNodeLock } from './take-lock.js'

/**
 * Where a pull is, in bytes of work: contacting the peer; syncing (each block is received, then
 * hashed, checked, its rows hashed and stored: IMPORT_PASSES passes over its bytes; the total
 * is exact for the blocks whose headers are known, and estimated at their average size for the
 * rest up to the best tip); verifying the whole chain (bytes hashed).
 */
export interface PullProgress extends WorkProgress { stage: 'contact' | 'sync' | 'verify' }

export interface PullOptions {
  dir: string
  /** Full multiaddr of the peer to pull from (…/p2p/<peer id>). */
  from: string
  /** Refuse the chain unless its genesis hash is this. */
  genesis?: string
  /** Keep the node running after the pull (the caller stops it). */
  follow?: boolean
  /** With `follow`: the node's signing key (it signs once the chain makes it a signatory). */
  signingKey?: SigningKey
  /** With `follow`: the node serves the HTTP API and explorer, as `petal run --http` (api54). */
  http?: NodeOptions['http']
  network?: Partial<NetworkOptions>
  sync?: Partial<SyncOptions>
  logger?: Logger
  signal?: AbortSignal
  onProgress?: (p: PullProgress) => void
  /** Also ask each peer for its largest checkpoint no larger than each of these tree sizes (sizes this directory lacks). */
  checkpointSizes?: number[]
  /** Give up when the height has not moved for this long before the chain is synced. */
  stallMs?: number
  verifyWorkers?: number
}

export interface PullResult {
  resumed: boolean
  chainId: string
  height: number
  hash: string
  verify: VerifyReport
  /** The checkpoints asked of the peers once synced, and those a proof here now uses. */
  checkpoints: PulledCheckpoints
  /** The running node, with --follow: it owns the chain, and its stop() closes it. */
  node?: PetalNode
}


/**
 * `petal pull`: like `docker pull` for a chain. Into an empty data directory, fetch the chain
 * parameters and genesis from the peer, check them (and --genesis), install them; then run a node
 * until no peer claims a better tip, ask the peers for their signed checkpoints, verify every
 * block, and stop (or keep running with follow).
 * A data directory that already holds the chain resumes where it stopped.
 */
export async function pull (o: PullOptions): Promise<PullResult> {
  const logger = o.logger ?? nullLogger
  const dir = new DataDir(o.dir)
  const { peer } = parseDialAddress(o.from)
  const resumed = existsSync(dir.chainParams)
  // Opened first, closed last: the chain's table-hashing threads.
  const hashPool = new TableRootPool()
  let chain: Chain
  try {
    chain = await openOrInstall(o, dir, resumed, hashPool, logger)
  } catch (err) {
    await hashPool.close()
    throw err
  }

  const bootstrap = [...new Set([o.from, ...(o.network?.bootstrap ?? [])])]
  let node: PetalNode | undefined
  // Held from the sync's start to the verify's end: a node started between them would move files
  // (a reorg, a placement) under the verify, which would take them for damage.
  let lock: NodeLock | undefined
  let result: PullResult
  // The sync going idle (its last import done) wakes waitSynced at once, not at its next poll.
  const idle = new Notifier()
  const startedAt = new Date()
  let asked: AskedCheckpoints[] = []
  try {
    lock = takeNodeLock(dir.root)
    // Sync with a node that listens nowhere: outbound connections are enough to fetch.
    node = await PetalNode.create({ dir: dir.root, chain, lock, pull: true, logger, network: { ...o.network, listen: [], announce: [], bootstrap }, sync: o.sync, queryMirror: false, ingest: false, events: { onProgress: p => { if (p.state === 'idle') idle.notify() } } })
    const syncing = node
    const pullState = (stage: 'sync' | 'verify'): Promise<void> => writePullState(dir.root, { peerId: syncing.peerId, startedAt, height: chain.tip().height, stage })
      .catch(err => { logger.warn('writing node-state.json failed', { error: errorMessage(err) }) })
    // Said now, not once the node has started and written its own (status; seal refused beside it).
    await pullState('sync')
    await pausepoint('pull:locked', o.signal)
    await withPullHeap(async () => {
      await syncing.start()
      await waitSynced(syncing, peer, o, idle)
      await pausepoint('pull:synced', o.signal)
      // Signed checkpoints travel on gossip, which a one-off pull mostly misses: ask the peers for
      // theirs, so that rows can be proven here (docs/proofs.md, "Asking a peer"). Also when the
      // directory was up to date: pulling again is how a reader gets them.
      asked = await askEveryPeer(chain, syncing.network, { signal: o.signal, logger, sizes: o.checkpointSizes })
      // Stop syncing before verifying: a reorg moving files mid-verify would look like damage.
      await syncing.stop()
    })
    node = undefined
    // The node's last file said it syncs, with the peers it had.
    await pullState('verify')
    // The verify stage begins now (its own reports come every 100 ms, the first after 100 ms).
    o.onProgress?.({ stage: 'verify', phase: 'verifying', done: 0, total: 0 })
    const verify = await verifyChain(chain, { workers: o.verifyWorkers, signal: o.signal, onProgress: p => { o.onProgress?.({ stage: 'verify', phase: p.phase, done: p.done, total: p.total }) } })
    if (!verify.ok) {
      throw new ChainError('VERIFY_FAILED', `verification failed at height ${verify.failure?.height ?? '?'}: ${verify.failure?.message ?? ''}`, { hint: 'fetch the bad block again with `petal verify --repair` (it asks the peer pulled from, which is remembered, and any other known peer)' })
    }
    const tip = chain.tip()
    result = { resumed, chainId: chain.chainId, height: tip.height, hash: tip.hash, verify, checkpoints: pulledCheckpoints(chain, asked, o.checkpointSizes) }
  } finally {
    idle.dispose()
    await node?.stop()
    // Its node-state.json says a pull runs here until the lock goes (`petal append` reads it).
    if (lock !== undefined) { removeNodeState(dir.root); lock.release() }
    chain.close()
    await hashPool.close()
  }
  if (o.follow !== true) return result
  // --follow: now run as a full node (listening as `run` would, unless told otherwise); it opens
  // the chain and its pools itself, and its stop() closes them.
  const follower = await PetalNode.create({ dir: dir.root, logger, network: { ...o.network, bootstrap }, sync: o.sync, signingKey: o.signingKey, http: o.http })
  try {
    await follower.start()
  } catch (err) {
    await follower.stop()
    throw err
  }
  return { ...result, node: follower }
}

/** The data directory's chain, or (a new pull) the peer's parameters and genesis, checked and installed. */
async function openOrInstall (o: PullOptions, dir: DataDir, resumed: boolean, hashPool: TableRootPool, logger: Logger): Promise<Chain> {
  let chain: Chain
  o.onProgress?.({ stage: 'contact', phase: 'contacting the peer', done: 0, total: 0 })
  if (resumed) {
    chain = Chain.open(dir.root, { logger: logger.child('chain'), hashPool })
    try {
      if (o.genesis !== undefined && chain.chainId !== o.genesis) {
        throw new ChainError('GENESIS_MISMATCH', `this data directory holds chain ${chain.chainId}, not ${o.genesis}`, { hint: 'check the --genesis hash, or pull into another (empty) directory' })
      }
      // The named peer must answer, and serve this chain, before the node starts waiting for it.
      await fetchChainFromPeer(o.from, { privateKey: await loadOrCreateNodeKey(dir.nodeKey), signal: o.signal, expectedGenesis: chain.chainId })
    } catch (err) {
      chain.close()
      throw err
    }
    logger.info('resuming pull', { height: chain.tip().height })
  } else {
    // Cleared and given its genesis under node.lock, as init and newchain do: one of them at the
    // same time would clear what this installs, or the reverse. Nothing is removed before it is held.
    checkEmptyDir(dir)
    mkdirSync(dir.root, { recursive: true, mode: 0o755 })
    const lock = takeCreateLock(dir.root)
    let tmp: string | undefined
    try {
      prepareEmptyDir(dir)
      tmp = tmpBlockPath(dir)
      const privateKey = await loadOrCreateNodeKey(dir.nodeKey)
      const fetched = await fetchChainFromPeer(o.from, { privateKey, signal: o.signal, expectedGenesis: o.genesis, genesisDest: tmp })
      chain = await installGenesis(dir, fetched.params, tmp, { logger: logger.child('chain'), hashPool })
      logger.info('installed genesis', { chain: chain.chainId })
    } finally {
      if (tmp !== undefined) {
        await rm(tmp, { force: true })
        await rm(sealPathOf(tmp), { force: true })
      }
      lock.release()
    }
  }

  return chain
}

const POLL_MS = 100

/**
 * Until the named peer has answered and no peer claims a better tip; fail if the height stalls.
 * Looks every POLL_MS (progress, stall), and at once when `idle` is notified (the sync went idle):
 * a poll alone added half a poll on average to every pull.
 */
export async function waitSynced (node: Pick<PetalNode, 'sync' | 'chain'>, peer: string, o: Pick<PullOptions, 'stallMs' | 'signal' | 'onProgress'>, idle: Notifier): Promise<void> {
  // No new height for longer than the slowest legitimate block transfer allows is a stall.
  const stallMs = o.stallMs ?? Math.max(60_000, blockTransferBudgetMs(node.chain.params.maxBlockBytes) + 10_000)
  let height = -1
  let movedAt = Date.now()
  for (;;) {
    if (o.signal?.aborted === true) throw new AbortError()
    const s = node.sync.state()
    // No peer can help while this node's own disk fails (DISK_FULL…): its code and hint, now.
    const local = node.sync.localFailure()
    if (local !== undefined) throw local
    const tips = node.sync.peerTips()
    const target = Math.max(s.target ?? 0, ...[...tips.values()].map(t => t.height), s.height)
    o.onProgress?.({ stage: 'sync', ...receiveProgress(s, target) })
    if (node.sync.claimed(peer) && node.sync.isSynced()) return
    if (s.height !== height) { height = s.height; movedAt = Date.now() }
    if (Date.now() - movedAt > stallMs) {
      throw new SyncError('PULL_FAILED', node.sync.claimed(peer) ? `no progress for ${Math.round(stallMs / 1000)} s at height ${height}` : `peer ${peer} did not answer`, {
        hint: 'check that the peer is running and reachable; run the same command again to resume'
      })
    }
    await idle.wait(POLL_MS, o.signal)
  }
}

/** The sync part of a pull's progress (see PullProgress). */
export function receiveProgress (s: Pick<SyncProgress, 'height' | 'received' | 'checked' | 'phase' | 'queued'>, target: number): WorkProgress {
  const q = s.queued
  const unknown = Math.max(0, target - Math.max(q.height ?? s.height, s.height))
  const average = q.blocks > 0 ? q.bytes / q.blocks : 0
  const done = s.received + s.checked
  return { phase: s.phase, done, total: Math.max(done, Math.round((q.bytes + unknown * average) * IMPORT_PASSES)) }
}
