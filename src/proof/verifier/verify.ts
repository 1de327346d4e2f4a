// The offline verifier: checks a proof document step by step against what the caller trusts and
// reports each step. It never throws on bad input: a malformed document is a failed step.
import { equalBytes, hashFromHex, toHex } from './bytes.js'
import { encodeChainLeaf } from './chain-leaf.js'
import { parsePetalCheckpoint, type PetalCheckpoint } from './checkpoint.js'
import { bytesOf, parseProofDocument, type ParsedBlock, type ParsedConsistencyProof, type ParsedRowsProof } from './document.js'
import { MERKLE_FAILURE_TEXT, verifyConsistency, verifyInclusion, type MerkleFailure } from './merkle.js'
import { keyIdHex, parseNote, type SignedNote } from './note.js'
import { signatoryKey, verifyNoteSignature, type NoteKey } from './note-keys.js'
import { petalKeyId } from './p256.js'
import { leafHash } from './sha256.js'
import type { TrustAnchors } from './trust.js'
import { encodeRow, tableEntryValues, type ProofValue } from './values.js'

/** Why a proof is rejected: stable codes, one per kind of defect (docs/proofs.md). */
export type RejectionCode =
  | 'PROOF_MALFORMED'
  | 'NO_TRUST_ANCHOR'
  | 'UNEXPECTED_CHAIN'
  | 'CHECKPOINT_MALFORMED'
  | 'CHECKPOINT_UNSIGNED'
  | 'CHECKPOINT_OTHER_CHAIN'
  | 'SIGNATURE_INVALID'
  | 'SIGNATURE_UNTRUSTED'
  | 'TOO_FEW_SIGNATURES'
  | 'COSIGNATURE_INVALID'
  | 'WITNESS_MISSING'
  | 'TRUSTED_CHECKPOINT_INVALID'
  | 'CONSISTENCY_FAILED'
  | 'CONSISTENCY_MISSING'
  | 'NOT_FINAL'
  | 'BEYOND_TRUSTED_CHECKPOINT'
  | 'CHAIN_INCLUSION_FAILED'
  | 'TABLE_INCLUSION_FAILED'
  | 'ROW_INCLUSION_FAILED'

export interface VerifyOptions {
  /** distinct trusted signatory keys that must have signed the checkpoint (default 1 when keys are trusted) */
  minSignatures?: number
  /** demand that the vouching checkpoint be final (no reorg within max_reorg_depth can undo it) */
  requireFinal?: boolean
  /** demand this chain id */
  chainId?: string
}

export interface Check {
  step: string
  ok: boolean
  message: string
  code?: RejectionCode
}

export interface SignatureReport {
  name: string
  key_id: string
  kind: 'signatory' | 'witness' | 'unknown'
  status: 'valid' | 'invalid' | 'ignored'
  /** Petal key id of the key that made it (known keys only) */
  key?: string
  /** cosignature time (POSIX seconds) */
  time?: string
}

export interface ProvenRow {
  height: number
  block_hash: string
  creator: string
  table: string
  index: number
  rowid: string | null
  columns: string[]
  values: ProofValue[]
  /** the row's block is at least max_reorg_depth below the signer's tip */
  final: boolean
}

export interface VerifyReport {
  ok: boolean
  verdict: string
  failure?: { code: RejectionCode, message: string }
  checks: Check[]
  type?: 'row' | 'bundle' | 'consistency'
  chain_id?: string
  checkpoint?: { origin: string, size: number, root: string, tip: number, max_reorg_depth: number, final: boolean }
  signatures: SignatureReport[]
  rows: ProvenRow[]
  proven: string[]
  not_proven: string[]
}

class Rejected extends Error {
  constructor (readonly code: RejectionCode, message: string) { super(message) }
}

class Report {
  /** what vouches for the rows: a checkpoint signed by trusted keys, or a trusted checkpoint it extends */
  anchor: 'signed' | 'trusted-checkpoint' = 'signed'
  readonly checks: Check[] = []
  readonly signatures: SignatureReport[] = []
  readonly rows: ProvenRow[] = []
  pass (step: string, message: string): void { this.checks.push({ step, ok: true, message }) }
  fail (step: string, code: RejectionCode, message: string): never {
    this.checks.push({ step, ok: false, message, code })
    throw new Rejected(code, message)
  }
}

/**
 * What a proof says of its keys: only that they signed. Where to check revocations depends on who
 * reads it, so each front end adds its own way (`petal verify-proof`: `petal signers`; the
 * explorer's /verify: this node's signatories), matching this text.
 */
export const NOT_PROVEN_KEYS = 'that the signing keys were still authorised: trusting a key is your decision (check that the chain has not revoked it)'

const NOT_PROVEN_ROWS = [
  'that no other row exists: a proof shows rows that are in the chain, never that a query or a table returned all of them',
  'the rowid, unless the table has an INTEGER PRIMARY KEY column (then it is that column\'s value); what is proven is the row\'s position in the table\'s canonical order',
  'the column names, which come from the document (the table\'s CREATE statement, which is proven, names them)',
  NOT_PROVEN_KEYS,
  'that the data is true: only that the chain recorded it'
]

/** Verify a proof document (JSON text or parsed JSON) against trusted keys and checkpoints. */
export async function verifyProof (input: unknown, trust: TrustAnchors, options: VerifyOptions = {}): Promise<VerifyReport> {
  const report: Report = new Report()
  let type: VerifyReport['type']
  let chainId: string | undefined
  let checkpoint: PetalCheckpoint | undefined
  try {
    const parsed = parseProofDocument(input)
    if ('error' in parsed) report.fail('document', 'PROOF_MALFORMED', `the proof document is malformed: ${parsed.error}`)
    const proof = parsed.proof
    type = proof.type
    chainId = proof.chainId
    report.pass('document', `proof document version 1, type ${proof.type}, chain ${proof.chainId}`)
    if (trust.keys.length === 0 && trust.checkpoints.length === 0) {
      report.fail('trust', 'NO_TRUST_ANCHOR', 'nothing is trusted: give the signatories\' public keys or a checkpoint trusted earlier')
    }
    if (options.chainId !== undefined && options.chainId !== proof.chainId) {
      report.fail('chain', 'UNEXPECTED_CHAIN', `the proof is for chain ${proof.chainId}, not the expected ${options.chainId}`)
    }
    if (proof.type === 'consistency') {
      checkpoint = await verifyConsistencyProof(report, proof, trust, options)
      return finish(report, { type, chainId, checkpoint })
    }
    checkpoint = await verifyRows(report, proof, trust, options)
    return finish(report, { type, chainId, checkpoint })
  } catch (err) {
    if (!(err instanceof Rejected)) throw err
    return finish(report, { type, chainId, checkpoint, failure: { code: err.code, message: err.message } })
  }
}

function finish (report: Report, o: { type?: VerifyReport['type'], chainId?: string, checkpoint?: PetalCheckpoint, failure?: { code: RejectionCode, message: string } }): VerifyReport {
  const ok = o.failure === undefined
  const cp = o.checkpoint
  const proven: string[] = []
  const signers = report.signatures.filter(x => x.status === 'valid' && x.kind === 'signatory').map(x => x.key ?? '')
  const witnesses = report.signatures.filter(x => x.status === 'valid' && x.kind === 'witness').map(x => x.name)
  if (ok && o.type === 'consistency') {
    proven.push(`chain ${o.chainId ?? ''} only grew between the two checkpoints: the older tree is a prefix of the newer one`)
  } else if (ok && cp !== undefined) {
    const n = report.rows.length
    const tables = new Set(report.rows.map(r => `${r.height}/${r.table}`))
    proven.push(`${n} row${n === 1 ? '' : 's'}, with exactly the values shown, ${n === 1 ? 'is' : 'are'} in ${tables.size === 1 ? `table ${report.rows[0]?.table ?? ''} of the block at height ${report.rows[0]?.height ?? ''}` : `${tables.size} tables`} of chain ${o.chainId ?? ''}, at the position shown`)
    proven.push(report.anchor === 'signed'
      ? `the checkpoint that commits to ${n === 1 ? 'that block' : 'those blocks'} (heights 0…${cp.size - 1}) is signed by the trusted signator${signers.length === 1 ? 'y' : 'ies'} ${signers.join(', ')}`
      : `the checkpoint that commits to ${n === 1 ? 'that block' : 'those blocks'} extends the checkpoint you trusted, which already contained ${n === 1 ? 'it' : 'them'}`)
    if (witnesses.length > 0) proven.push(`cosigned by the witness${witnesses.length === 1 ? '' : 'es'} ${witnesses.join(', ')}`)
    const pending = report.rows.filter(r => !r.final).length
    proven.push(pending === 0 ? 'final: no reorg within max_reorg_depth can remove these blocks' : `${pending} of the rows ${pending === 1 ? 'is' : 'are'} in blocks that were not yet final when the checkpoint was signed (a reorg could still orphan them)`)
  }
  const verdict = ok
    ? `VERIFIED: ${o.type === 'consistency' ? 'the checkpoints are consistent' : `${report.rows.length} row${report.rows.length === 1 ? '' : 's'} proven`} in chain ${o.chainId ?? ''}`
    : `REJECTED: ${o.failure?.message ?? ''}`
  return {
    ok,
    verdict,
    failure: o.failure,
    checks: report.checks,
    type: o.type,
    chain_id: o.chainId,
    checkpoint: cp === undefined ? undefined : { origin: cp.origin, size: cp.size, root: cp.rootHex, tip: cp.tip, max_reorg_depth: cp.maxReorgDepth, final: cp.final },
    signatures: report.signatures,
    rows: ok ? report.rows : [],
    proven,
    not_proven: o.type === 'consistency' ? ['anything about the content of the blocks added between the checkpoints'] : NOT_PROVEN_ROWS
  }
}

/** Parse a note holding a Petal checkpoint of chain `chainId`. */
function readCheckpoint (report: Report, step: string, text: string, chainId: string): { note: SignedNote, cp: PetalCheckpoint } {
  const n = parseNote(text)
  if ('error' in n) report.fail(step, n.unsigned === true ? 'CHECKPOINT_UNSIGNED' : 'CHECKPOINT_MALFORMED', `the checkpoint is ${n.unsigned === true ? 'not signed' : 'not a valid signed note'}: ${n.error}`)
  const cp = parsePetalCheckpoint(n.note.text)
  if (typeof cp === 'string') report.fail(step, 'CHECKPOINT_MALFORMED', `the checkpoint is not a Petal checkpoint: ${cp}`)
  if (cp.chainId !== chainId) report.fail(step, 'CHECKPOINT_OTHER_CHAIN', `the checkpoint is for chain ${cp.chainId}, not the proof's chain ${chainId}`)
  report.pass(step, `checkpoint of chain ${chainId}: ${cp.size} blocks (heights 0…${cp.size - 1}), root ${cp.rootHex}, signer's tip ${cp.tip}, ${cp.final ? 'final' : `not final (max_reorg_depth ${cp.maxReorgDepth}: ${cp.finalHeight < 0 ? 'every height' : `heights above ${cp.finalHeight}`} could still be reorganised)`}`)
  return { note: n.note, cp }
}

/**
 * Check the note's signatures. Lines from unknown keys are ignored (and kept); a line whose name
 * and key ID match a trusted key must verify, or the whole note is rejected (C2SP signed-note).
 * Returns the number of distinct trusted signatories that signed.
 */
async function checkSignatures (report: Report, step: string, note: SignedNote, cp: PetalCheckpoint, trust: TrustAnchors, options: VerifyOptions, record: boolean): Promise<number> {
  const known: NoteKey[] = [...await Promise.all(trust.keys.map(async k => await signatoryKey(k.name ?? cp.origin, k.spki))), ...trust.witnesses]
  const signers = new Set<string>()
  const witnessed = new Set<NoteKey>()
  let ignored = 0
  for (const sig of note.signatures) {
    const candidates = known.filter(k => k.name === sig.name && k.keyId === sig.keyId)
    const entry: SignatureReport = { name: sig.name, key_id: keyIdHex(sig.keyId), kind: 'unknown', status: 'ignored' }
    if (record) report.signatures.push(entry)
    if (candidates.length === 0) { ignored++; continue }
    let valid: NoteKey | undefined
    for (const k of candidates) {
      const v = await verifyNoteSignature(k, note.text, sig)
      if (v.ok) { valid = k; entry.time = v.time?.toString(); break }
    }
    const kind = (candidates[0] as NoteKey).kind
    entry.kind = kind
    if (valid === undefined) {
      entry.status = 'invalid'
      entry.key = await petalKeyId((candidates[0] as NoteKey).spki)
      report.fail(step, kind === 'witness' ? 'COSIGNATURE_INVALID' : 'SIGNATURE_INVALID', `the ${kind === 'witness' ? 'cosignature' : 'signature'} of ${entry.key} (${sig.name}) does not verify: the checkpoint was altered or the signature forged`)
    }
    entry.status = 'valid'
    entry.key = await petalKeyId(valid.spki)
    if (valid.kind === 'witness') witnessed.add(valid)
    else signers.add(entry.key)
  }
  const min = options.minSignatures ?? (trust.keys.length > 0 ? 1 : 0)
  const skipped = ignored > 0 ? `; ${ignored} signature${ignored === 1 ? '' : 's'} by unknown keys ignored` : ''
  if (min > 0 && signers.size === 0) {
    report.fail(step, 'SIGNATURE_UNTRUSTED', `no signature on the checkpoint is by a trusted key (${note.signatures.length} signature${note.signatures.length === 1 ? '' : 's'}, all by unknown keys)`)
  }
  if (signers.size < min) report.fail(step, 'TOO_FEW_SIGNATURES', `the checkpoint is signed by ${signers.size} trusted signator${signers.size === 1 ? 'y' : 'ies'}; ${min} are required`)
  report.pass(step, signers.size > 0 ? `signed by ${signers.size} trusted signator${signers.size === 1 ? 'y' : 'ies'} (${[...signers].join(', ')})${skipped}` : `no trusted signatory key given: the checkpoint is trusted only through consistency with a trusted checkpoint${skipped}`)
  for (const w of trust.witnesses) {
    if (!witnessed.has(w)) report.fail(`${step}/witness`, 'WITNESS_MISSING', `the checkpoint has no valid cosignature by the witness ${w.name}`)
  }
  if (trust.witnesses.length > 0) report.pass(`${step}/witness`, `cosigned by every demanded witness (${trust.witnesses.map(w => w.name).join(', ')})`)
  return signers.size
}

/**
 * Why a checkpoint that was not final may no longer match the chain (docs/proofs.md, "Checkpoints"),
 * and what to do: the proof's, ask for it again; a trusted one, trust a final one instead (a new
 * proof fails against it the same way: review53b).
 */
function reorgMay (c: PetalCheckpoint, trusted = false): string {
  return `the ${trusted ? 'trusted ' : ''}checkpoint of size ${c.size} was not final (its last block ${c.size - 1} less than max_reorg_depth ${c.maxReorgDepth} below its signer's tip ${c.tip}), so a reorg may have abandoned it: ${trusted ? 'trust a final checkpoint of the current chain instead (`petal checkpoint --final` on one of its nodes)' : 'ask for the proof again against the current chain'}`
}

/** The trusted checkpoints: each must be consistent with `cp`. Returns how many leaves they vouch for. */
async function checkTrustedCheckpoints (report: Report, cp: PetalCheckpoint, chainId: string, consistency: ParsedRowsProof['consistency'], trusted: readonly string[]): Promise<{ covered: number, anchor?: PetalCheckpoint }> {
  let covered = 0
  let anchor: PetalCheckpoint | undefined
  for (const text of trusted) {
    const n = parseNote(text)
    const t = 'error' in n ? n.error : parsePetalCheckpoint(n.note.text)
    if (typeof t === 'string') report.fail('trusted-checkpoint', 'TRUSTED_CHECKPOINT_INVALID', `a trusted checkpoint is not a valid Petal checkpoint: ${t}`)
    if (t.chainId !== chainId) report.fail('trusted-checkpoint', 'CHECKPOINT_OTHER_CHAIN', `the trusted checkpoint is for chain ${t.chainId}, not the proof's chain ${chainId}`)
    const [small, large] = t.size <= cp.size ? [t, cp] : [cp, t]
    let failure: MerkleFailure | undefined
    if (t.size === cp.size) {
      failure = equalBytes(t.root, cp.root) ? undefined : 'root-mismatch'
    } else {
      const entry = consistency.find(c => c.size === t.size)
      if (entry === undefined) report.fail('trusted-checkpoint', 'CONSISTENCY_MISSING', `the document has no consistency proof between the trusted checkpoint (size ${t.size}) and its own (size ${cp.size})${cp.final ? '' : `; ${reorgMay(cp)}`}`)
      failure = await verifyConsistency(small.size, large.size, entry.path, small.root, large.root)
    }
    // Consistency is promised only from a final checkpoint: from one that was not, a reorg explains it.
    // Of equal sizes, the proof's first: asked for again, it may match the trusted one.
    const unfinal = [cp, t].find(x => x.size === small.size && !x.final)
    if (failure !== undefined) report.fail('trusted-checkpoint', 'CONSISTENCY_FAILED', `the checkpoint (size ${cp.size}) is not consistent with the trusted checkpoint (size ${t.size}): ${MERKLE_FAILURE_TEXT[failure]}; ${unfinal === undefined ? 'the chain was rewritten or the proof forged' : reorgMay(unfinal, unfinal === t)}`)
    report.pass('trusted-checkpoint', `consistent with the trusted checkpoint of size ${t.size}${t.size === cp.size ? ' (the same tree)' : ''}`)
    const c = Math.min(t.size, cp.size)
    if (c > covered) { covered = c; anchor = t }
  }
  return { covered, anchor }
}

async function verifyRows (report: Report, proof: ParsedRowsProof, trust: TrustAnchors, options: VerifyOptions): Promise<PetalCheckpoint> {
  const { note, cp } = readCheckpoint(report, 'checkpoint', proof.checkpoint, proof.chainId)
  // The paths are hashed while the signatures are checked (WebCrypto works off the main thread);
  // the results are then read in step order, so the first failing step is still the one reported.
  const paths = proof.blocks.map(b => hashBlock(b, cp))
  // Marked as handled: when an earlier step fails, nobody awaits them.
  for (const p of paths) p.catch(() => {})
  const signed = await checkSignatures(report, 'signatures', note, cp, trust, options, true) > 0
  const { covered, anchor } = await checkTrustedCheckpoints(report, cp, proof.chainId, proof.consistency, trust.checkpoints)
  // What vouches for the rows: the signed checkpoint, else the trusted checkpoint it extends.
  const vouching = signed ? cp : anchor
  report.anchor = signed ? 'signed' : 'trusted-checkpoint'
  if (vouching === undefined) report.fail('signatures', 'SIGNATURE_UNTRUSTED', 'nothing vouches for the checkpoint: it has no trusted signature and no trusted checkpoint was given')
  if (options.requireFinal === true) {
    if (!vouching.final) report.fail('finality', 'NOT_FINAL', `the checkpoint is not final: its last block ${vouching.size - 1} is less than max_reorg_depth (${vouching.maxReorgDepth}) below the signer's tip ${vouching.tip}`)
    report.pass('finality', `final: every block up to height ${vouching.size - 1} was at least ${vouching.maxReorgDepth} blocks below the tip ${vouching.tip}`)
  }
  for (const [i, b] of proof.blocks.entries()) reportBlock(report, b, await (paths[i] as Promise<BlockPaths>), cp, signed ? cp.size : covered, vouching)
  const nRows = report.rows.length
  report.pass('rows', `${nRows} row${nRows === 1 ? '' : 's'} in ${proof.blocks.length} block${proof.blocks.length === 1 ? '' : 's'} verified`)
  return cp
}

/** The outcome of a block's three kinds of path, each undefined when it holds. */
interface BlockPaths {
  chain: MerkleFailure | 'unencodable' | undefined
  tables: Array<{ table: MerkleFailure | undefined, rows: Array<MerkleFailure | undefined> }>
}

async function hashBlock (b: ParsedBlock, cp: PetalCheckpoint): Promise<BlockPaths> {
  const bytes = encodeChainLeaf({ height: b.height, hash: b.hash, rowsRoot: b.rowsRoot, creator: b.creator })
  const chain = bytes === undefined ? 'unencodable' as const : (async () => await verifyInclusion(await leafHash(bytes), b.height, cp.size, b.path, cp.root))()
  const rowsRoot = bytesOf(b.rowsRoot)
  const tables = Promise.all(b.tables.map(async t => {
    const root = hashFromHex(t.root) as Uint8Array
    const rows = Promise.all(t.rows.map(async r => await verifyInclusion(await leafHash(encodeRow(r.values)), r.index, t.rowCount, r.path, root)))
    const leaf = await leafHash(encodeRow(tableEntryValues({ name: t.name, sql: t.sql, rows: t.rowCount, root: t.root })))
    return { table: await verifyInclusion(leaf, t.index, t.tableCount, t.path, rowsRoot), rows: await rows }
  }))
  return { chain: await chain, tables: await tables }
}

function reportBlock (report: Report, b: ParsedBlock, paths: BlockPaths, cp: PetalCheckpoint, covered: number, vouching: PetalCheckpoint): void {
  const at = `block ${b.height}`
  if (paths.chain === 'unencodable') report.fail('chain', 'PROOF_MALFORMED', `${at}: the chain leaf cannot be encoded`)
  if (paths.chain !== undefined) report.fail('chain', 'CHAIN_INCLUSION_FAILED', `${at} (hash ${b.hash}) is not leaf ${b.height} of the checkpoint's chain tree: ${MERKLE_FAILURE_TEXT[paths.chain]}`)
  if (b.height >= covered) report.fail('chain', 'BEYOND_TRUSTED_CHECKPOINT', `${at} is beyond the trusted checkpoint (size ${covered}) and the checkpoint that includes it is not signed by a trusted key`)
  report.pass('chain', `${at} (hash ${b.hash}, RowsRoot ${b.rowsRoot}, creator ${b.creator}) is leaf ${b.height} of the chain tree of size ${cp.size}`)
  for (const [ti, t] of b.tables.entries()) {
    const tat = `table ${JSON.stringify(t.name)} of ${at}`
    const tp = paths.tables[ti] as BlockPaths['tables'][number]
    if (tp.table !== undefined) report.fail('table', 'TABLE_INCLUSION_FAILED', `${tat} (${t.rowCount} rows, root ${t.root}) is not in the block's RowsRoot: ${MERKLE_FAILURE_TEXT[tp.table]}`)
    report.pass('table', `${tat} (${t.rowCount} rows, root ${t.root}) is entry ${t.index} of the block's RowsRoot`)
    for (const [ri, r] of t.rows.entries()) {
      const rf = tp.rows[ri]
      if (rf !== undefined) report.fail('row', 'ROW_INCLUSION_FAILED', `row ${r.index}${r.rowid === null ? '' : ` (rowid ${r.rowid})`} of ${tat} is not in the table with these values: ${MERKLE_FAILURE_TEXT[rf]}`)
      report.rows.push({ height: b.height, block_hash: b.hash, creator: b.creator, table: t.name, index: r.index, rowid: r.rowid, columns: t.columns, values: r.values, final: b.height <= vouching.finalHeight })
    }
    if (t.rows.length <= 8) report.pass('row', `${t.rows.length === 1 ? 'row' : 'rows'} ${t.rows.map(r => r.index).join(', ')} of ${tat} ${t.rows.length === 1 ? 'is' : 'are'} in the table with exactly the values shown`)
    else report.pass('row', `${t.rows.length} rows of ${tat} are in the table with exactly the values shown`)
  }
}

async function verifyConsistencyProof (report: Report, proof: ParsedConsistencyProof, trust: TrustAnchors, options: VerifyOptions): Promise<PetalCheckpoint> {
  const from = readCheckpoint(report, 'from', proof.from, proof.chainId)
  const to = readCheckpoint(report, 'to', proof.to, proof.chainId)
  for (const [step, c] of [['from', from], ['to', to]] as const) {
    const trusted = trust.checkpoints.some(t => {
      const n = parseNote(t)
      return !('error' in n) && n.note.text === c.note.text
    })
    if (trusted) report.pass(`${step}/signatures`, `the ${step} checkpoint is a trusted checkpoint`)
    else await checkSignatures(report, `${step}/signatures`, c.note, c.cp, { ...trust, checkpoints: [] }, { ...options, minSignatures: Math.max(1, options.minSignatures ?? 1) }, step === 'to')
    if (options.requireFinal === true && !c.cp.final) report.fail('finality', 'NOT_FINAL', `the ${step} checkpoint is not final (max_reorg_depth ${c.cp.maxReorgDepth}, tip ${c.cp.tip})`)
  }
  const failure = await verifyConsistency(from.cp.size, to.cp.size, proof.path, from.cp.root, to.cp.root)
  if (failure !== undefined) report.fail('consistency', 'CONSISTENCY_FAILED', `the checkpoint of size ${from.cp.size} is not a prefix of the checkpoint of size ${to.cp.size}: ${MERKLE_FAILURE_TEXT[failure]}`)
  report.pass('consistency', `the chain tree of size ${from.cp.size} (root ${toHex(from.cp.root)}) is a prefix of the tree of size ${to.cp.size} (root ${toHex(to.cp.root)})`)
  return to.cp
}
