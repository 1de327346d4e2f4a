import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { BlockError, readBlockFile, type DaisyCommitment } from '../block/index.js'
import type { SigningKey } from '../crypto/index.js'
import { DaisyDb, DaisyDir, DaisyError, DataDir, missingBlockHint, readDaisyChainParams, type DaisyChainParams, type NewChainInput } from '../storage/index.js'
import { fsyncDir, fsyncFile, reviveError, serializeError, shellWord, throwIfAborted, type OnWorkProgress } from '../util/index.js'
import type { Chain } from './chain.js'
import { checkDaisyChain, type DaisyCheckReport, type DaisyWarning } from './daisy-check.js'
import { recordedDaisyCommitment } from './daisy-commitment.js'
import { updateDaisyState } from './daisy-state.js'
import { createChain, prepareEmptyDir } from './genesis.js'
import type { ChainOptions } from './chain.js'

/** In an adopted chain's data directory: the copy of the Daisy history, and Petal's state of it. */
export const ADOPTED_HISTORY_DIR = 'daisy'
export const ADOPTED_STATE_DIR = 'daisy-state'

export interface AdoptOptions extends ChainOptions {
  signal?: AbortSignal
  onProgress?: OnWorkProgress
  /** The new chain's parameters (newchain's input); by default Daisy's creator and description and Petal's default consensus. */
  input?: Omit<NewChainInput, 'daisy' | 'signatories'>
}

export interface AdoptReport {
  chain: Chain
  commitment: DaisyCommitment
  /** Daisy blocks copied and verified. */
  blocks: number
  bytes: number
  warnings: DaisyWarning[]
  /** The Daisy signatories active at its tip, all signatories of the new genesis. */
  signatories: string[]
}

/**
 * `petal adopt-daisy`: make `newRoot` a Petal chain that continues the Daisy chain in `daisyRoot`.
 * The Daisy history is copied byte for byte into `newRoot/daisy/` and every block of the copy is
 * checked with v1 rules (so what was verified is what stays); then a v2 genesis, sealed by `key`
 * (an active Daisy signatory at the tip), commits to Daisy's genesis, chain parameters and tip,
 * and adds every active Daisy signatory. chainparams.json is written last: until then the
 * directory holds no chain, and adopting again starts over. The Daisy directory is only read.
 */
export async function adoptDaisy (daisyRoot: string, newRoot: string, key: SigningKey, o: AdoptOptions = {}): Promise<AdoptReport> {
  const src = new DaisyDir(daisyRoot)
  const dir = new DataDir(newRoot)
  if (dir.root === src.root || dir.root.startsWith(src.root + '/')) {
    throw new DaisyError('DAISY_STATE_FOREIGN', `the new chain's directory ${dir.root} is inside the Daisy directory ${src.root}, which Petal never writes`, { hint: 'give a --dir outside the Daisy directory', details: { state: dir.root, source: src.root } })
  }
  const params = readDaisyChainParams(src)
  const db = DaisyDb.open(src)
  let tipHeight: number
  try {
    tipHeight = db.tipHeight()
  } finally {
    db.close()
  }
  // Clears the leftovers of an adoption killed before its genesis (daisy/, daisy-state/) too.
  prepareEmptyDir(dir)
  const copy = new DaisyDir(join(dir.root, ADOPTED_HISTORY_DIR))
  const state = join(dir.root, ADOPTED_STATE_DIR)
  try {
    return await adoptInto(src, dir, copy, state, tipHeight, params, key, o)
  } catch (err) {
    // A failed adoption leaves no copy of the history behind (docs/data-directory.md, "Crash
    // safety"): it continued no chain, and an init there would keep it beside its own genesis.
    // Unless chainparams.json was written (its genesis, which commits to the copy, is in place).
    if (!existsSync(dir.chainParams)) {
      for (const p of [copy.root, state]) {
        try { rmSync(p, { recursive: true, force: true }) } catch { /* the next creation here clears it (prepareEmptyDir) */ }
      }
    }
    throw err
  }
}

async function adoptInto (src: DaisyDir, dir: DataDir, copy: DaisyDir, state: string, tipHeight: number, params: DaisyChainParams, key: SigningKey, o: AdoptOptions): Promise<AdoptReport> {
  copyHistory(src, copy, tipHeight, o.signal)
  // Every block of the copy, checked: a file changed since daisy.db recorded it is refused here.
  let report: DaisyCheckReport
  try {
    report = await checkDaisyChain(copy, { signal: o.signal, pool: o.hashPool, onProgress: o.onProgress })
  } catch (err) {
    throw await sourceError(err, src, o.signal)
  }
  const tip = report.tip
  if (tip === undefined) throw new DaisyError('DAISY_DB_INVALID', `daisy.db of ${src.root} lists no blocks`, { hint: 'restore daisy.db from a backup of the Daisy directory', details: { path: src.db } })
  requireSignatory(report, key, src.root, dir.root)
  await updateDaisyState(copy.root, state, { logger: o.logger, hashPool: o.hashPool, signal: o.signal })
  const commitment: DaisyCommitment = { genesisHash: params.genesisHash, chainParams: params.digest, tipHeight: tip.height, tipHash: tip.hash }
  const active = report.keys.active()
  const input: NewChainInput = {
    creator: o.input?.creator ?? params.creator,
    description: o.input?.description ?? (params.description !== '' ? params.description : `continues the Daisy chain ${params.genesisHash}`),
    genesisTimestamp: o.input?.genesisTimestamp,
    bootstrapPeers: o.input?.bootstrapPeers ?? [],
    genesisDb: o.input?.genesisDb,
    consensus: o.input?.consensus ?? { quorumRule: 'daisy-capped', maxBlockBytes: 64 * 1024 * 1024, maxReorgDepth: 100 },
    daisy: commitment,
    signatories: active.map(s => ({ id: s.keyId, publicKey: s.publicKey.hex }))
  }
  const chain = await createChain(dir.root, input, key, o)
  return { chain, commitment, blocks: report.blocks, bytes: report.bytes, warnings: report.warnings, signatories: active.map(s => s.keyId) }
}

function requireSignatory (report: DaisyCheckReport, key: SigningKey, daisyRoot: string, newRoot: string): void {
  if (report.keys.isActive(key.id)) return
  throw new BlockError('SIGNER_NOT_AUTHORISED', `key ${key.id} is not an active signatory of the Daisy chain at its tip (height ${report.tip?.height ?? 0}), so it cannot seal the genesis that continues it`, {
    details: { height: report.tip?.height ?? 0, signer: key.id },
    hint: `import a Daisy signatory's key into the new directory's keystore: \`petal --dir ${shellWord(newRoot)} keys import ${shellWord(join(daisyRoot, 'private.db'))}\` (or choose one with --key)`
  })
}

/** Copy daisy.db, chainparams.json and blocks 0..tip into `to`, durably. */
function copyHistory (from: DaisyDir, to: DaisyDir, tipHeight: number, signal?: AbortSignal): void {
  mkdirSync(to.root, { recursive: true })
  copyDurably(from.db, to.db)
  if (existsSync(from.chainParams)) copyDurably(from.chainParams, to.chainParams)
  for (let h = 0; h <= tipHeight; h++) {
    throwIfAborted(signal)
    const target = to.blockPath(h)
    if (h % 65536 === 0) mkdirSync(dirname(target), { recursive: true })
    const source = from.blockPath(h)
    if (!existsSync(source)) {
      throw new DaisyError('DAISY_BLOCK_MISSING', `Daisy block ${h} is listed in daisy.db but its file ${source} is missing`, {
        hint: missingBlockHint(from, h), details: { height: h, path: source }
      })
    }
    copyDurably(source, target)
  }
  fsyncDir(to.root)
}

function copyDurably (from: string, to: string): void {
  copyFileSync(from, to)
  fsyncFile(to)
}

/** What an adopted chain's genesis commits to, or undefined for a chain that adopted nothing. */
export async function daisyCommitmentOf (chain: Chain, o: { recorded?: boolean } = {}): Promise<DaisyCommitment | undefined> {
  const g = chain.get(0)
  if (g === undefined) return undefined
  // `recorded`: what the index recorded when the genesis was placed (status), if it did.
  const r = o.recorded === true ? recordedDaisyCommitment(chain.index, g.hash) : 'unknown'
  if (r !== 'unknown') return r
  const file = await readBlockFile(chain.pathOf(g), { maxBytes: chain.params.maxBlockBytes, quickCheck: false, checkManifest: false })
  return file.header.daisy
}

export interface AdoptionCheck { commitment: DaisyCommitment, blocks: number, warnings: DaisyWarning[] }

/**
 * Check an adopted chain's continuity: the Daisy history in its daisy/ passes v1 verification
 * and is exactly what the genesis commits to (Daisy's genesis, chain parameters, tip height and
 * hash), and the genesis creator was an active Daisy signatory at that tip. Undefined when the
 * chain adopted nothing.
 */
export async function checkAdoption (chain: Chain, o: { signal?: AbortSignal, onProgress?: OnWorkProgress, genesis?: { daisy?: DaisyCommitment } } = {}): Promise<AdoptionCheck | undefined> {
  // `genesis`: the header of the genesis the caller has just verified (verify's replay), so the
  // file is not read again.
  const c = o.genesis === undefined ? await daisyCommitmentOf(chain) : o.genesis.daisy
  if (c === undefined) return undefined
  const copy = new DaisyDir(join(chain.dir.root, ADOPTED_HISTORY_DIR))
  const mismatch = (field: string, why: string): DaisyError => new DaisyError('DAISY_ADOPTION_MISMATCH', `the genesis continues the Daisy chain ${c.genesisHash} at height ${c.tipHeight} (${c.tipHash}), but ${why}`, {
    hint: `put back the ${copy.root} directory adopt-daisy wrote (a copy of the Daisy directory it verified)`, details: { field }
  })
  if (!existsSync(copy.root)) throw mismatch('directory', `${copy.root} is missing`)
  let r: DaisyCheckReport
  let params: DaisyChainParams
  try {
    r = await checkDaisyChain(copy, { signal: o.signal, onProgress: o.onProgress })
    params = readDaisyChainParams(copy)
  } catch (err) {
    throw adoptedHistoryError(err, chain.dir.root)
  }
  if (params.genesisHash !== c.genesisHash) throw mismatch('DaisyGenesisHash', `the history's genesis is ${params.genesisHash}`)
  if (params.digest !== c.chainParams) throw mismatch('DaisyChainParams', `the history's chain parameters are ${params.digest === 'default' ? 'Daisy\'s default chain' : `chainparams.json with SHA-256 ${params.digest}`}`)
  if (r.tip?.height !== c.tipHeight || r.tip.hash !== c.tipHash) throw mismatch('DaisyTipHash', `the history ends at height ${r.tip?.height ?? -1} (${r.tip?.hash ?? 'no block'})`)
  const creator = chain.get(0)?.signer ?? ''
  if (!r.keys.isActive(creator)) throw mismatch('CreatorPublicKey', `its creator ${creator} is not an active Daisy signatory at that tip`)
  return { commitment: c, blocks: r.blocks, warnings: r.warnings }
}

/**
 * A failure of the copy's check, as the Daisy directory's own: the copy's errors name the daisy/ of
 * the chain being made, and DAISY_BLOCK_INVALID's hint said to restore that copy from a backup and
 * `petal --dir <it> verify` (review31). The same check of the Daisy directory (read again only on
 * this failure, up to the failing block) gives the error with its paths and hints; a directory that
 * passes it changed while it was copied, and the copy's error stands.
 */
async function sourceError (err: unknown, src: DaisyDir, signal?: AbortSignal): Promise<unknown> {
  if (!(err instanceof DaisyError) && !BlockError.is(err)) return err
  try {
    await checkDaisyChain(src, { signal })
  } catch (e) {
    return e
  }
  return err
}

/**
 * An error met checking the Daisy history of the adopted chain in `root` (its daisy/), with a hint
 * for that copy: the hints of a Daisy directory's errors send the user to a backup or a Daisy node
 * and to `petal --dir <daisy/> verify`, while this copy is Petal's own, checked by the chain's
 * verify, and its block files are those of the Daisy directory it was adopted from (which the
 * chain does not record: DAISY_DIR stands for it).
 */
export function adoptedHistoryError (err: unknown, root: string): unknown {
  if (!(err instanceof DaisyError) || err.code === 'DAISY_READ_ONLY' || err.code === 'DAISY_STATE_FOREIGN') return err
  const copy = new DaisyDir(join(root, ADOPTED_HISTORY_DIR))
  const again = `\`petal --dir ${shellWord(root)} verify\` checks it again`
  const d: { height?: unknown, path?: unknown } = err.details
  const file = err.code === 'DAISY_HASH_MISMATCH' || err.code === 'DAISY_BLOCK_MISSING' ? d.path : undefined
  const hint = typeof file === 'string' && typeof d.height === 'number'
    ? `the copy of Daisy block ${d.height} that adopt-daisy made was changed or removed: copy the block back from the Daisy directory the chain was adopted from (\`cp ${join('DAISY_DIR', relative(copy.root, file))} ${file}\`) or from a backup of ${root}; ${again}`
    : `the Daisy history adopt-daisy copied into ${copy.root} was changed: put it back from a backup of ${root}; ${again}`
  return reviveError({ ...serializeError(err), hint })
}
