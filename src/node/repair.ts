import { copyFile, lstat, rm } from 'node:fs/promises'
import { BlockError } from '../block/index.js'
import { ChainError, findDamagedBlocks, restoreBlock, type Chain, type Damage, type DamagedBlock, type ScanProgress } from '../chain/index.js'
import { sha256File } from '../crypto/index.js'
import { addrPeerId, DEFAULT_NETWORK_OPTIONS, loadOrCreateNodeKey, NetworkError, openBlockFetcher, parseMultiaddr, type BlockFetcher } from '../network/index.js'
import { daisyReadOnly, DataDir, rememberPeerAddrs, StorageError, tmpBlockPath, type BlockRecord } from '../storage/index.js'
import { errorMessage, isPetalError, nullLogger, type Logger } from '../util/index.js'
import { peersFilePath, readKnownPeers } from './state-file.js'

export interface RepairOptions {
  /** Peers to ask first, full multiaddrs ending in /p2p/<peer id> (`--peer`). */
  peers?: string[]
  /** Other data directories of the chain to copy from (`--from`); asked before any peer. */
  from?: string[]
  /** Then ask the peers remembered in peers.json and chainparams' bootstrap peers (default true). */
  knownPeers?: boolean
  signal?: AbortSignal
  logger?: Logger
  onProgress?: (p: ScanProgress) => void
  /** Each block as it is repaired, or found impossible to repair. */
  onBlock?: (r: RepairOutcome) => void
}

export interface RepairOutcome {
  height: number
  hash: string
  canonical: boolean
  damage: Damage
  /** Where the good copy came from (`this directory`, a directory, `peer <id>`), when repaired. */
  source?: string
  /** Why not, when no source had a good copy. */
  reason?: string
}

export interface RepairReport {
  repaired: RepairOutcome[]
  failed: RepairOutcome[]
  /** Sources tried (for the report): directories and peers. */
  sources: string[]
}

/** Somewhere a good copy of a block may be: puts it at `dest` and returns true, or false. */
interface Source {
  readonly name: string
  get: (b: BlockRecord, dest: string, signal?: AbortSignal) => Promise<boolean>
  /** A peer that could not be reached (no answer at its addresses): it was not asked. */
  unreachable?: () => boolean
  /** A peer's addresses (those asked) */
  addrs?: readonly string[]
}

/**
 * `petal verify --repair`: find every stored block (canonical or side) whose file or seal is
 * damaged or missing, fetch a good copy by its indexed hash — from the file itself when only its
 * `.sig` is damaged, then from `--from` directories, `--peer` peers, the remembered peers and the
 * bootstrap peers, in that order — check it as an import would, and put it back crash-safely
 * (chain/repair.ts). What cannot be repaired is reported, with the reason.
 */
export async function repairChain (chain: Chain, o: RepairOptions = {}): Promise<RepairReport> {
  // Petal's state of a Daisy directory: its block files are Daisy's, never replaced (session 56).
  const daisy = chain.dir.daisySource
  if (daisy !== undefined) throw daisyReadOnly(daisy, chain.dir.root, 'state', 'verify --repair')
  const logger = o.logger ?? nullLogger
  const damaged = await findDamagedBlocks(chain, { signal: o.signal, onProgress: o.onProgress })
  const report: RepairReport = { repaired: [], failed: [], sources: [] }
  if (damaged.length === 0) return report
  logger.info('damaged block files found', { count: damaged.length })
  const peers = new PeerSources(chain, o, logger)
  const sources: Source[] = [localSource(chain), ...(o.from ?? []).map(dirSource), ...peers.sources()]
  report.sources = sources.slice(1).map(s => s.name)
  try {
    for (const d of damaged) {
      const r = await repairOne(chain, d, d.damage === 'seal' ? sources : sources.slice(1), o.signal, logger)
      ;(r.source !== undefined ? report.repaired : report.failed).push(r)
      o.onBlock?.(r)
    }
  } finally {
    await peers.stop()
  }
  peers.remember()
  return report
}

async function repairOne (chain: Chain, d: DamagedBlock, sources: Source[], signal: AbortSignal | undefined, logger: Logger): Promise<RepairOutcome> {
  const b = d.block
  const outcome: RepairOutcome = { height: b.height, hash: b.hash, canonical: b.canonical, damage: d.damage }
  let rejected = 0
  for (const s of sources) {
    const tmp = tmpBlockPath(chain.dir)
    try {
      if (!await s.get(b, tmp, signal)) continue
      await restoreBlock(chain, b, tmp, { signal })
      return { ...outcome, source: s.name }
    } catch (err) {
      if (isPetalError(err) && err.code === 'ABORTED') throw err
      // Pruned meanwhile (a running node): nothing left to repair.
      if (err instanceof ChainError && err.code === 'BLOCK_NOT_FOUND') return { ...outcome, reason: err.message }
      // Something in the file's place that no copy replaces (a directory): this block is reported, the others repaired.
      if (err instanceof StorageError && err.code === 'DATA_FILE_NOT_REGULAR') return { ...outcome, reason: `${err.message}: move it aside, then run \`petal verify --repair\` again` }
      // A copy that fails the checks: try the next source (the next peer may have a good one).
      if (!(err instanceof BlockError)) throw err
      rejected++
      logger.warn('a copy of a damaged block failed the checks', { height: b.height, source: s.name, code: err.code })
    } finally {
      await rm(tmp, { force: true })
    }
  }
  return { ...outcome, reason: failedReason(sources, rejected) }
}

/**
 * Why no source gave a good copy. A peer at an old address (a node restarted on another port) is
 * not a source without the block: saying 'no source had it' sent the user looking for a node
 * that has the block when theirs did (user50).
 */
function failedReason (sources: Source[], rejected: number): string {
  if (sources.length === 0) return 'no source to fetch it from (give --peer ADDR or --from DIR)'
  const dead = sources.filter(s => s.unreachable?.() === true)
  const unreachable = dead.length
  const asked = sources.length - unreachable
  // Which peer, at which address, and where its address is now (user51: the reason said only
  // 'a peer', so a user with several nodes did not know whose address to look up, nor how).
  const named = dead.slice(0, 3).map(s => `${s.name} at ${(s.addrs ?? []).join(', ')}`).join('; ') + (unreachable > 3 ? '; …' : '')
  const notReached = unreachable === 0
    ? ''
    : `${unreachable} of ${sources.length} sources could not be reached (${named}: an address that no longer answers, as a node restarted on another port; \`petal status\` on that node's machine prints its address now, after \`listening\`: give it with --peer ADDR, and this directory remembers it)`
  if (rejected > 0) return `no good copy: ${rejected} failed the checks, ${asked - rejected > 0 ? 'the other sources did not have it' : 'no other source had it'}${notReached === '' ? '' : `; ${notReached}`}`
  if (unreachable === 0) return 'no source had it'
  return asked === 0 ? `no source could be asked: ${notReached}` : `no source asked had it; ${notReached}`
}

/** The block's own file, when only its seal is damaged (the index holds the seal). */
function localSource (chain: Chain): Source {
  return { name: 'this directory', get: async (b, dest) => await copyIfIntact(chain.pathOf(b), b, dest) }
}

/** Another data directory of the chain: the block at its height, or among its side blocks. */
function dirSource (root: string): Source {
  const dir = new DataDir(root)
  return {
    name: root,
    get: async (b, dest) => {
      for (const path of new Set([dir.blockPath(b.height), dir.forkPath(b.hash)])) {
        if (await copyIfIntact(path, b, dest)) return true
      }
      return false
    }
  }
}

/** Copy `path` to `dest` if it is a regular file that hashes to the block's hash. */
async function copyIfIntact (path: string, b: BlockRecord, dest: string): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined)
  if (st === undefined || !st.isFile() || st.size !== b.size) return false
  await copyFile(path, dest)
  if (await sha256File(dest) === b.hash) return true
  await rm(dest, { force: true })
  return false
}

/** The peers to ask, in order, over one fetcher opened on first use. */
class PeerSources {
  private fetcher?: Promise<BlockFetcher>
  private readonly list: Array<{ id: string, addrs: string[] }> = []
  private readonly dead = new Set<string>()
  /** Peers that did not answer at any address (DIAL_FAILED): a subset of `dead`. */
  private readonly unreached = new Set<string>()
  /** Peers that gave a good copy, and the addresses --peer gave (remember()). */
  private readonly served = new Set<string>()
  private readonly given = new Map<string, string[]>()

  constructor (private readonly chain: Chain, o: RepairOptions, private readonly logger: Logger) {
    const add = (id: string | undefined, addrs: string[]): void => {
      if (id === undefined || addrs.length === 0) return
      const e = this.list.find(p => p.id === id)
      if (e === undefined) this.list.push({ id, addrs: [...addrs] })
      else for (const a of addrs) if (!e.addrs.includes(a)) e.addrs.push(a)
    }
    for (const a of o.peers ?? []) {
      const id = addrPeerId(parseMultiaddr(a, true))
      add(id, [a])
      if (id !== undefined) this.given.set(id, [...(this.given.get(id) ?? []), a])
    }
    if (o.knownPeers !== false) {
      for (const p of readKnownPeers(chain.dir.root)) add(p.id, p.addrs)
      for (const a of chain.params.bootstrapPeers) {
        try { add(addrPeerId(parseMultiaddr(a, true)), [a]) } catch {}
      }
    }
  }

  sources (): Source[] {
    return this.list.map(p => ({
      name: `peer ${p.id}`,
      get: async (b, dest, signal) => await this.fetch(p.id, b, dest, signal),
      unreachable: () => this.unreached.has(p.id),
      addrs: p.addrs
    }))
  }

  private async fetch (peer: string, b: BlockRecord, dest: string, signal?: AbortSignal): Promise<boolean> {
    if (this.dead.has(peer)) return false
    this.fetcher ??= loadOrCreateNodeKey(this.chain.dir.nodeKey).then(async privateKey => await openBlockFetcher({ privateKey, chainId: this.chain.chainId, peers: this.list }))
    const fetcher = await this.fetcher
    try {
      await fetcher.fetch(peer, b.hash, dest, { maxBytes: this.chain.params.maxBlockBytes, signal })
      this.served.add(peer)
      return true
    } catch (err) {
      if (isPetalError(err) && err.code === 'ABORTED') throw err
      if (err instanceof NetworkError && (err.code === 'DIAL_FAILED' || err.code === 'WRONG_CHAIN' || err.code === 'TIMEOUT')) this.dead.add(peer)
      if (err instanceof NetworkError && err.code === 'DIAL_FAILED') this.unreached.add(peer)
      this.logger.info('a peer could not provide a damaged block', { peer, height: b.height, code: isPetalError(err) ? err.code : undefined })
      await rm(dest, { force: true })
      return false
    }
  }

  async stop (): Promise<void> {
    const f = await this.fetcher?.catch(() => undefined)
    await f?.stop()
  }

  /**
   * Remember in peers.json the --peer addresses of the peers that served a block: a source
   * restarted on another port, given once with --peer, is found there by the next repair, pull or
   * run (before session 51 the file kept only its old address, and the next repair failed again).
   */
  remember (): void {
    for (const [id, addrs] of this.given) {
      if (!this.served.has(id)) continue
      try {
        rememberPeerAddrs(peersFilePath(this.chain.dir.root), id, addrs, DEFAULT_NETWORK_OPTIONS.redial.maxRemembered)
      } catch (err) {
        this.logger.warn('cannot remember a peer\'s address in peers.json', { peer: id, error: errorMessage(err) })
      }
    }
  }
}
