import { existsSync, mkdirSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { CONSENSUS_BOUNDS } from '../block/index.js'
import {
  DAISY_SOURCE_FILE, DaisyDb, DaisyDir, DaisyError, DataDir, IndexDb, readDaisyChainParams, StorageError, writeChainParams,
  type ChainParams, type DaisyChainParams, type LockOptions
} from '../storage/index.js'
import { isRecord, parseJson, reviveError, serializeError, writeFileAtomic, type OnWorkProgress } from '../util/index.js'
import { Chain, consensusJson, type ChainOptions } from './chain.js'
import { appendToChainTree } from './chain-tree.js'
import { checkDaisyChain, type DaisyWarning } from './daisy-check.js'
import { KeyState } from './key-state.js'

/**
 * The Petal chain parameters of a Daisy chain (the chainparams.json of its derived state): its
 * genesis, Daisy's quorum rule, no block size limit beyond Petal's largest, and no reorgs (Daisy
 * has none).
 */
export function daisyChainParams (p: DaisyChainParams): ChainParams {
  return {
    genesisHash: p.genesisHash,
    genesisSeal: p.genesisSeal,
    genesisTimestamp: p.genesisTimestamp,
    creator: p.creator,
    creatorPublicKey: p.creatorPublicKey,
    description: p.description,
    // Daisy's bootstrap peers are host:port of its own protocol, not libp2p addresses.
    bootstrapPeers: [],
    quorumRule: 'daisy',
    maxBlockBytes: CONSENSUS_BOUNDS.maxBlockBytes.max,
    maxReorgDepth: 0
  }
}

export interface DaisyStateOptions extends ChainOptions, Pick<LockOptions, 'timeoutMs' | 'onWait'> {
  signal?: AbortSignal
  onProgress?: OnWorkProgress
}

export interface DaisyStateReport {
  /** Blocks checked and indexed by this call (0 when the state was up to date). */
  added: number
  /** Whether the state was rebuilt from height 0 (new, or the Daisy directory changed below its tip). */
  rebuilt: boolean
  tipHeight: number
  /** Every warning of the indexed chain (kept in the index). */
  warnings: DaisyWarning[]
}

const WARNINGS_META = 'daisy_warnings'

/**
 * Bring the derived state of Daisy directory `daisyRoot` in `stateRoot` up to date: a Petal index
 * (chain.db) of the Daisy blocks, each checked with v1 rules before it is indexed. Incremental:
 * only blocks above the indexed tip are checked, unless daisy.db disagrees with the index below
 * it (then the index is rebuilt). Nothing in the Daisy directory is written.
 */
export async function updateDaisyState (daisyRoot: string, stateRoot: string, o: DaisyStateOptions = {}): Promise<DaisyStateReport> {
  const d = new DaisyDir(daisyRoot)
  const dir = prepareStateDir(d, stateRoot)
  const params = daisyChainParams(readDaisyChainParams(d))
  writeChainParams(dir.chainParams, params)
  let index: IndexDb
  try {
    index = IndexDb.open(dir.chainDb)
  } catch (err) {
    throw stateUnusable(err, d, dir)
  }
  const chain = Chain.attach(dir, params, index, o)
  try {
    return await index.withWriteLock(async () => {
      let tip = index.tip()
      const db = DaisyDb.open(d)
      let daisyTip: number
      let stale: boolean
      try {
        daisyTip = db.tipHeight()
        stale = tip !== undefined && (tip.height > daisyTip || db.range(tip.height, tip.height)[0]?.hash !== tip.hash || index.byHeight(0)?.hash !== params.genesisHash)
      } finally {
        db.close()
      }
      if (stale) {
        index.clear()
        tip = undefined
      }
      const known: DaisyWarning[] = tip === undefined ? [] : readWarnings(index.getMeta(WARNINGS_META))
      if (tip !== undefined && tip.height === daisyTip) return { added: 0, rebuilt: false, tipHeight: daisyTip, warnings: known }
      const r = await checkDaisyChain(d, {
        from: tip === undefined ? 0 : tip.height + 1,
        parent: tip,
        keys: tip === undefined ? KeyState.empty() : KeyState.fromRecords(index.signers(), tip.height),
        signal: o.signal,
        pool: chain.hashPool,
        onProgress: o.onProgress,
        now: chain.clock.now(),
        onBlock: b => {
          index.insertBlock(b.record, b.tables, b.ops)
          index.applyKeyOps(b.record.height, b.ops)
          appendToChainTree(index, b.record)
        }
      })
      const warnings = [...known, ...r.warnings]
      index.setMeta('consensus', consensusJson(params))
      index.setMeta(WARNINGS_META, JSON.stringify(warnings))
      chain.logger.info('indexed Daisy blocks', { added: r.blocks, tip: r.tip?.height, warnings: r.warnings.length })
      return { added: r.blocks, rebuilt: tip === undefined, tipHeight: daisyTip, warnings }
    }, { signal: o.signal, timeoutMs: o.timeoutMs, onWait: o.onWait, work: `index the Daisy directory ${d.root}` })
  } finally {
    chain.close()
  }
}

/**
 * The state's chain.db cannot be read: its usual hint, `petal reindex`, is refused on a Daisy
 * directory; the state is derived, so removing it is the remedy (the next command rebuilds it).
 */
function stateUnusable (err: unknown, d: DaisyDir, dir: DataDir): unknown {
  if (!(err instanceof StorageError) || err.code !== 'INDEX_CORRUPT') return err
  const hint = `it is Petal's state of the Daisy directory ${d.root}, rebuilt from it: remove it (\`rm -r ${dir.root}\`) and run the command again`
  return reviveError({ ...serializeError(err), hint })
}

/** The warnings recorded in a Daisy directory's derived state. */
export function daisyWarnings (chain: Chain): DaisyWarning[] {
  return readWarnings(chain.index.getMeta(WARNINGS_META))
}

function readWarnings (text: string | undefined): DaisyWarning[] {
  if (text === undefined) return []
  const j = parseJson(text)
  if (!Array.isArray(j)) return []
  return j.filter((w): w is DaisyWarning => isRecord(w) && typeof w.height === 'number' && typeof w.kind === 'string' && typeof w.message === 'string')
}

/**
 * Create (or check) the state directory of `d`: it names its Daisy directory in daisy-source.json
 * and holds nothing else of a Petal data directory.
 */
function prepareStateDir (d: DaisyDir, stateRoot: string): DataDir {
  const dir = new DataDir(stateRoot)
  if (dir.root === d.root || dir.root.startsWith(d.root + '/')) {
    // Inside the Daisy directory would be writing to it.
    throw new DaisyError('DAISY_STATE_FOREIGN', `the state directory ${dir.root} is inside the Daisy directory ${d.root}, which Petal never writes`, { hint: 'give a --state outside it (or leave --state out for the default)', details: { state: dir.root, source: d.root } })
  }
  mkdirSync(dir.root, { recursive: true })
  const source = dir.daisySource
  if (source === undefined) {
    if (existsSync(dir.chainParams) || existsSync(dir.blockPath(0))) {
      throw new DaisyError('DAISY_STATE_FOREIGN', `${dir.root} is a Petal data directory, not the state of a Daisy directory`, { hint: 'give a --state of its own to each Daisy directory (or leave --state out for the default)', details: { state: dir.root, source: '' } })
    }
    // Side by side (an adopted chain's daisy/ and daisy-state/): a relative name, so both can move together.
    const name = dirname(dir.root) === dirname(d.root) ? relative(dir.root, d.root) : d.root
    writeFileAtomic(join(dir.root, DAISY_SOURCE_FILE), JSON.stringify({ daisy_dir: name }, null, 2) + '\n')
    return new DataDir(stateRoot)
  }
  if (source !== d.root) {
    throw new DaisyError('DAISY_STATE_FOREIGN', `${dir.root} holds the state of another Daisy directory (${source})`, { hint: 'give a --state of its own to each Daisy directory (or leave --state out for the default)', details: { state: dir.root, source } })
  }
  return dir
}
