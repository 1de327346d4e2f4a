import { statSync } from 'node:fs'
import { BlockError, CONSENSUS_BOUNDS, GENESIS_PREVIOUS_HASH, readBlockFile, rowsRootOf, verifyKeyOp, verifyPrevious, verifySeal, type KeyOpRow, type TableRootPool } from '../block/index.js'
import { sha256File, type PublicKey } from '../crypto/index.js'
import {
  checkDataFile, DaisyDb, DaisyError, missingBlockHint, readDaisyChainParams,
  type BlockRecord, type DaisyBlockRow, type DaisyChainParams, type DaisyDir, type KeyOpRecord, type TableRecord
} from '../storage/index.js'
import { errorMessage, formatTimestamp, isNotFound, isPetalError, shellWord, throwIfAborted, withDetails, type OnWorkProgress } from '../util/index.js'
import { groupByKey } from './validate/check-keyops.js'
import { daisyQuorum } from './quorum.js'
import { KeyState } from './key-state.js'

/**
 * A defect Daisy accepts and Petal reports instead of copying (docs/daisy.md "What Petal
 * checks"): the block stays valid under v1 rules, the warning names its height.
 */
export interface DaisyWarning {
  height: number
  /** 'SELF_ENDORSEMENT' | 'SIGNER_COUNTED_TWICE' | 'ENDORSER_REVOKED' | 'ENDORSER_ADDED_IN_BLOCK' | 'QUORUM_EXCEEDED' | 'NO_SIGNERS_LEFT' */
  kind: string
  message: string
}

/** One Daisy block, checked: its index row, tables (roots computed) and key operations. */
export interface DaisyBlock {
  record: BlockRecord
  tables: TableRecord[]
  ops: KeyOpRecord[]
  /** The signatory set after this block. */
  keys: KeyState
}

export interface DaisyCheckOptions {
  /** First height to check (default 0); above 0, `parent` and `keys` give the state below it. */
  from?: number
  parent?: { hash: string }
  keys?: KeyState
  signal?: AbortSignal
  pool?: TableRootPool
  onProgress?: OnWorkProgress
  onBlock?: (b: DaisyBlock) => void
  onWarning?: (w: DaisyWarning) => void
  /** When each block was indexed (ms). */
  now?: number
}

export interface DaisyCheckReport {
  params: DaisyChainParams
  /** Blocks checked by this call. */
  blocks: number
  bytes: number
  tip?: { height: number, hash: string }
  keys: KeyState
  warnings: DaisyWarning[]
}

// Daisy sets no block size limit; Petal's largest is the bound.
const MAX_BYTES = CONSENSUS_BOUNDS.maxBlockBytes.max

/**
 * Check a Daisy directory with v1 rules, from `from` up to daisy.db's last block: each file exists
 * and hashes to daisy.db's hash, the genesis is the chain's, links run unbroken, the signer is an
 * active signatory at the parent, PreviousBlockHashSignature and the seal (daisy.db's
 * hash_signature) verify over raw digests (high S allowed), and key operations meet Daisy's quorum
 * floor(2·ln H) (1 below 149), with Daisy's defects reported as warnings. Throws at the first bad
 * block, naming its height.
 */
export async function checkDaisyChain (d: DaisyDir, o: DaisyCheckOptions = {}): Promise<DaisyCheckReport> {
  const params = readDaisyChainParams(d)
  const db = DaisyDb.open(d)
  const warnings: DaisyWarning[] = []
  const warn = (w: DaisyWarning): void => { warnings.push(w); o.onWarning?.(w) }
  try {
    const tipHeight = db.tipHeight()
    const from = o.from ?? 0
    let keys = o.keys ?? KeyState.empty()
    let parent = o.parent
    let total = 0
    for (let h = from; h <= tipHeight; h++) total += sizeOf(d.blockPath(h))
    let done = 0
    let blocks = 0
    let tip: DaisyCheckReport['tip']
    const STEP = 256
    for (let lo = from; lo <= tipHeight; lo += STEP) {
      for (const row of db.range(lo, Math.min(lo + STEP - 1, tipHeight))) {
        throwIfAborted(o.signal)
        let b: DaisyBlock
        try {
          b = await checkOne(d, row, params, parent, keys, warn, o)
        } catch (err) {
          throw refusedByRules(err, d, row.height)
        }
        keys = b.keys
        parent = { hash: b.record.hash }
        tip = { height: row.height, hash: b.record.hash }
        done += b.record.size
        blocks++
        o.onBlock?.(b)
        o.onProgress?.({ phase: 'verifying Daisy blocks', done, total: Math.max(total, done) })
      }
    }
    return { params, blocks, bytes: done, tip, keys, warnings }
  } finally {
    db.close()
  }
}

function sizeOf (path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

async function checkOne (
  d: DaisyDir, row: DaisyBlockRow, params: DaisyChainParams, parent: { hash: string } | undefined, keys: KeyState,
  warn: (w: DaisyWarning) => void, o: DaisyCheckOptions
): Promise<DaisyBlock> {
  const h = row.height
  const path = d.blockPath(h)
  try {
    checkDataFile(path, 'Daisy block file')
  } catch (err) {
    if (!isNotFound(err)) throw err
    throw new DaisyError('DAISY_BLOCK_MISSING', `Daisy block ${h} is listed in daisy.db but its file ${path} is missing`, {
      hint: missingBlockHint(d, h), details: { height: h, path }
    })
  }
  const hash = await sha256File(path, { signal: o.signal })
  if (hash !== row.hash) {
    throw new DaisyError('DAISY_HASH_MISMATCH', `Daisy block ${h} (${path}) hashes to ${hash}, daisy.db records ${row.hash}: the file was changed or replaced`, {
      hint: 'put the original file back from a backup or another Daisy node; Petal never rewrites Daisy\'s files', details: { height: h, path, hash, expected: row.hash }
    })
  }
  if (h === 0 && hash !== params.genesisHash) {
    throw new DaisyError('DAISY_GENESIS_MISMATCH', `Daisy's genesis block hashes to ${hash}, but ${params.digest === 'default' ? 'Daisy\'s default chain (no chainparams.json)' : 'chainparams.json'} names ${params.genesisHash}`, {
      hint: params.digest === 'default' ? 'put back the chainparams.json this chain was created or pulled with' : 'put back the chainparams.json this chain was created with, or the genesis block it names',
      details: { hash, expected: params.genesisHash }
    })
  }
  let file
  try {
    file = await readBlockFile(path, { maxBytes: MAX_BYTES, v1Tables: true, pool: o.pool, signal: o.signal })
  } catch (err) {
    throw atBlock(err, h, path)
  }
  const hd = file.header
  if (hd.version !== 1 || row.version !== 1) {
    throw new BlockError('UNSUPPORTED_VERSION', `Daisy block ${h} is version ${hd.version} (daisy.db says ${row.version}); a Daisy chain holds version 1 blocks only`, { details: { height: h } })
  }
  const expectedParent = h === 0 ? GENESIS_PREVIOUS_HASH : (parent?.hash ?? '')
  if (hd.previousHash !== expectedParent || row.prevHash !== hd.previousHash) {
    const says = hd.previousHash !== expectedParent ? `its PreviousBlockHash is ${hd.previousHash}` : `daisy.db's prev_hash is ${row.prevHash}`
    throw new DaisyError('DAISY_BROKEN_LINK', `the Daisy chain is broken at block ${h}: ${says}, not ${h === 0 ? 'the genesis constant' : `the hash of block ${h - 1}`} ${expectedParent}`, {
      hint: 'the blocks from that height up do not belong to this chain: restore them from a backup or another Daisy node', details: { height: h, parent: hd.previousHash, expected: expectedParent }
    })
  }
  if (row.sigkeyHash !== hd.creator) {
    throw new DaisyError('DAISY_DB_INVALID', `daisy.db says block ${h} was signed by ${row.sigkeyHash}, its _meta.CreatorPublicKey says ${hd.creator}`, { hint: 'restore daisy.db from a backup of the Daisy directory', details: { path: d.db, height: h } })
  }
  let ops: KeyOpRecord[]
  let after: KeyState
  let signer: PublicKey
  if (h === 0) {
    ops = genesisOps(file.keyOps, hd.creator)
    after = keys.apply(ops, 0)
    const creator = after.get(hd.creator)
    if (creator === undefined) throw new BlockError('BAD_GENESIS', 'invalid Daisy genesis block: its creator is not among its keys', { details: { height: 0 } })
    signer = creator.publicKey
  } else {
    const s = keys.get(hd.creator)
    if (s === undefined) throw new BlockError('SIGNER_NOT_AUTHORISED', `Daisy block ${h} is signed by ${hd.creator}, which is not a signatory at block ${h - 1}`, { details: { height: h, signer: hd.creator } })
    if (s.revokedAt !== null) throw new BlockError('SIGNER_REVOKED', `Daisy block ${h} is signed by ${hd.creator}, revoked at height ${s.revokedAt}`, { details: { height: h, signer: hd.creator, revokedAt: s.revokedAt } })
    signer = s.publicKey
    ops = checkKeyOpsV1(file.keyOps, h, keys, warn)
    after = keys.apply(ops, h)
  }
  if (!verifyPrevious(signer, hd)) throw new BlockError('BAD_PREV_SIGNATURE', `PreviousBlockHashSignature of Daisy block ${h} does not verify`, { details: { height: h } })
  if (!verifySeal(signer, hd, hash, row.hashSignature)) throw new BlockError('BAD_SEAL', `the seal of Daisy block ${h} (daisy.db's hash_signature) does not verify`, { details: { height: h, hash } })
  if (h === 0 && !verifySeal(signer, hd, hash, params.genesisSeal)) {
    // daisy.db's seal of the same genesis verified: the chain definition's copy is what is wrong.
    throw new DaisyError('DAISY_CHAINPARAMS_INVALID', `${d.chainParams}: genesis_block_hash_signature does not verify as the genesis creator's seal of block 0 (daisy.db's seal of it does)`, {
      hint: 'put back the chainparams.json this chain was created or pulled with (its genesis_block_hash_signature is the creator\'s seal of the genesis)', details: { path: d.chainParams }
    })
  }
  if (ops.length > 0 && after.activeCount === 0) warn({ height: h, kind: 'NO_SIGNERS_LEFT', message: `block ${h} revokes every signatory: no block can follow it` })
  const record: BlockRecord = {
    hash,
    height: h,
    parent: hd.previousHash,
    canonical: true,
    version: 1,
    signer: hd.creator,
    // Daisy's Timestamp is optional (its default genesis has none): daisy.db's acceptance time stands in.
    timestamp: hd.timestamp !== '' && Number.isFinite(hd.time) ? hd.timestamp : formatTimestamp(row.timeAccepted * 1000),
    // A v1 block has no RowsRoot: the index holds the one computed from its tables (docs/daisy.md).
    rowsRoot: rowsRootOf(file.tables),
    prevSig: hd.previousHashSignature,
    seal: row.hashSignature,
    size: file.size,
    keyOpCount: ops.length,
    receivedAt: o.now ?? Date.now()
  }
  return { record, tables: file.tables, ops, keys: after }
}

/** Daisy's genesis: every `_keys` row adds a key, endorsed by a key of the genesis; the creator is among them. */
function genesisOps (rows: readonly KeyOpRow[], creator: string): KeyOpRecord[] {
  const bad = (why: string): BlockError => new BlockError('BAD_GENESIS', `invalid Daisy genesis block: ${why}`, { details: { height: 0 } })
  const added = new Map(rows.map(r => [r.keyId, r.publicKey]))
  if (!added.has(creator)) throw bad(`its creator ${creator} is not added by its own _keys`)
  const ops: KeyOpRecord[] = []
  for (const [keyId, group] of groupByKey(rows)) {
    for (const r of group) {
      if (r.op !== 'A') throw bad('a genesis can only add keys')
      const by = added.get(r.signer)
      if (by === undefined) throw bad(`the endorsement of ${keyId} is by ${r.signer}, which the genesis does not add`)
      if (!verifyKeyOp(by, '', r, 1)) throw new BlockError('KEYOP_BAD_SIGNATURE', `genesis endorsement of ${keyId} by ${r.signer} does not verify`, { details: { height: 0, key: keyId, signer: r.signer } })
    }
    ops.push({ keyId, op: 'A', pubkey: group[0].publicKey.hex, signers: [...new Set(group.map(r => r.signer))].sort() })
  }
  return ops
}

/**
 * Key operations by Daisy's rules (reference: Daisy's checkAcceptBlock): per target key one op,
 * at least Q = daisyQuorum(H) rows, each by a known key whose signature over the key hash
 * verifies; no adding a known key, no revoking an unknown or revoked one. What Daisy lets through
 * and Petal's own rules refuse is reported, not copied.
 */
function checkKeyOpsV1 (rows: readonly KeyOpRow[], h: number, keys: KeyState, warn: (w: DaisyWarning) => void): KeyOpRecord[] {
  const q = daisyQuorum(h)
  const ops: KeyOpRecord[] = []
  // Daisy applies each op as it goes, so a key added earlier in the block can endorse a later one.
  let running = keys
  for (const [keyId, group] of groupByKey(rows)) {
    const op = group[0].op
    const at = { height: h, key: keyId }
    if (group.some(r => r.op !== op)) throw new BlockError('KEYOP_MIXED', `Daisy block ${h}: both add and revoke for ${keyId}`, { details: at })
    const seen = new Set<string>()
    for (const r of group) {
      if (seen.has(r.signer)) warn({ height: h, kind: 'SIGNER_COUNTED_TWICE', message: `block ${h}: ${r.signer} endorses ${keyId} more than once, and Daisy counts each row toward the quorum (its _keys has no PRIMARY KEY)` })
      seen.add(r.signer)
      if (r.signer === keyId) warn({ height: h, kind: 'SELF_ENDORSEMENT', message: `block ${h}: ${keyId} endorses its own ${op === 'A' ? 'addition' : 'revocation'}` })
      const s = running.get(r.signer)
      if (s === undefined) {
        throw new BlockError('KEYOP_SIGNER_NOT_AUTHORISED', `Daisy block ${h}: the endorsement of ${keyId} is by ${r.signer}, which is not a signatory`, { details: { ...at, signer: r.signer } })
      }
      if (keys.get(r.signer) === undefined) warn({ height: h, kind: 'ENDORSER_ADDED_IN_BLOCK', message: `block ${h}: ${r.signer} endorses ${keyId} in the block that adds it (Daisy's result depends on map order)` })
      else if (s.revokedAt !== null) warn({ height: h, kind: 'ENDORSER_REVOKED', message: `block ${h}: ${r.signer}, revoked at height ${s.revokedAt}, endorses ${keyId} (Daisy does not check)` })
      if (!verifyKeyOp(s.publicKey, '', r, 1)) throw new BlockError('KEYOP_BAD_SIGNATURE', `Daisy block ${h}: the endorsement of ${keyId} by ${r.signer} does not verify`, { details: { ...at, signer: r.signer } })
    }
    if (group.length < q) {
      throw new BlockError('KEYOP_QUORUM_NOT_MET', `Daisy block ${h}: ${op === 'A' ? 'adding' : 'revoking'} ${keyId} needs ${q} endorsements (Daisy's quorum at height ${h}), has ${group.length}`, { details: { ...at, quorum: q, have: group.length } })
    }
    if (group.length > q) warn({ height: h, kind: 'QUORUM_EXCEEDED', message: `block ${h}: ${group.length} endorsements of ${keyId} where Daisy's quorum is ${q} (Daisy's start-up check wants exactly ${q} and refuses to start)` })
    const t = running.get(keyId)
    if (op === 'A' && t !== undefined) throw new BlockError('KEYOP_KEY_EXISTS', `Daisy block ${h}: ${keyId} is already a signatory`, { details: at })
    if (op === 'R' && t === undefined) throw new BlockError('KEYOP_KEY_UNKNOWN', `Daisy block ${h}: ${keyId} is not a signatory and cannot be revoked`, { details: at })
    if (op === 'R' && t?.revokedAt !== null && t?.revokedAt !== undefined) throw new BlockError('KEYOP_KEY_REVOKED', `Daisy block ${h}: ${keyId} is already revoked (height ${t.revokedAt})`, { details: at })
    const rec: KeyOpRecord = { keyId, op, pubkey: group[0].publicKey.hex, signers: [...seen].sort() }
    ops.push(rec)
    running = running.apply([rec], h)
  }
  return ops
}

// The rules a Daisy node checks when it accepts a block: one refused by these was not accepted by
// Daisy. The others are the structure Petal reads a block file by, which Daisy did not check.
const DAISY_RULES = /^(SIGNER_(NOT_AUTHORISED|REVOKED)|BAD_(PREV_SIGNATURE|SEAL|GENESIS)|UNSUPPORTED_VERSION|KEYOP_(MIXED|BAD_SIGNATURE|QUORUM_NOT_MET|KEY_EXISTS|KEY_UNKNOWN|KEY_REVOKED))$/

/**
 * A Daisy block refused by the v1 rules, as DAISY_BLOCK_INVALID (`rule`: the block code): the
 * block codes' own hints are for Petal chains (`petal signkey`, `verify --repair`), which a
 * read-only Daisy directory refuses; what helps here is a good copy of the directory.
 */
function refusedByRules (err: unknown, d: DaisyDir, h: number): unknown {
  if (!BlockError.is(err)) return err
  const path = d.blockPath(h)
  const restore = `${d.root} (daisy.db and blocks/) from a backup, or copy it again from a Daisy node that holds the chain; \`petal --dir ${shellWord(d.root)} verify\` then checks it`
  const hint = DAISY_RULES.test(err.code)
    ? `a Daisy node does not accept such a block, and this file is the one daisy.db records: the directory was altered. Restore ${restore}`
    : `if the directory was altered, restore ${restore}. If a Daisy node's copy of block ${h} is this same file, the block holds something Petal does not read in a block (the message names it; docs/daisy.md, "What Petal checks")`
  return new DaisyError('DAISY_BLOCK_INVALID', `${err.message} (rule ${err.code})`, { hint, details: { height: h, path, rule: err.code }, cause: err })
}

/** A block-level failure of Daisy block `h`: its message names the block, its details the height. */
function atBlock (err: unknown, h: number, path: string): unknown {
  if (!isPetalError(err) || err.code === 'ABORTED') return err
  const e = withDetails(err, { height: h })
  e.message = `Daisy block ${h} (${path}): ${errorMessage(err)}`
  return e
}
