import type { Chain } from '../chain/index.js'
import { LIMITS, NetworkError, type Network } from '../network/index.js'
import type { SigningKey } from '../crypto/index.js'
import { findCheckpoint, judgeAnsweredCheckpoint, keepReceivedCheckpoint, readCheckpointNote, servedCheckpoints, signBudget, signRequestedSize, storedChainTree, type SignBudget, type UnsignedCode } from '../proof/index.js'
import { errorCode, errorMessage, type Logger } from '../util/index.js'

/** What one peer's answer to a `checkpoints` request gave (docs/protocol.md). */
export interface AskedCheckpoints {
  peer: string
  /** notes in the answer */
  received: number
  /** notes accepted and stored here now (not counting ones already stored) */
  kept: number
  /** accepted, whether new or stored already */
  accepted: number
  /** the peer does not speak the protocol (a Petal before session 48): nothing asked, nobody blamed */
  unsupported?: true
  /** why the exchange failed, or why the answer was refused (the peer is scored down then) */
  error?: string
  /** the sizes asked for that the peer did not sign, with its reason (since session 57) */
  unsigned?: PeerUnsigned[]
}

/** A size a peer did not sign when asked (`unsigned` in its reply), with its reason. */
export interface PeerUnsigned { size: number, code?: string, reason: string }

/** Each chain's budget of notes signed on a peer's request (proof/on-request.ts). */
const budgets = new WeakMap<Chain, SignBudget>()

/** The code of the disk failure last logged per chain: logged once while it stands, again after a signature. */
const failing = new WeakMap<Chain, string>()

/** What this node answers a `checkpoints` request with (docs/protocol.md, "checkpoints"). */
export interface ServedCheckpoints {
  notes: string[]
  /** a size asked for that this node did not sign, and why, in words and as a code (UnsignedCode) */
  unsigned?: string
  unsignedCode?: UnsignedCode
}

/**
 * What this node answers a peer's `checkpoints` request with: notes small enough to send. A
 * signatory's node (`key`) first signs a final checkpoint of exactly `maxSize` when it keeps none
 * (docs/proofs.md, "A size signed on request"), so a reader's `pull --checkpoint-size N` gets N.
 * When the answer holds no note of that size, it says why (`unsigned`, `unsignedCode`): the
 * asker's pull shows it with what to do (since session 57; until then only a failure to sign was
 * said, and no Petal read it). A disk's failure is logged with its code, once while it stands.
 */
export async function checkpointsToServe (chain: Chain, maxSize: number, key?: SigningKey): Promise<ServedCheckpoints> {
  let why: { code: UnsignedCode, text: string } | undefined
  if (key === undefined) why = { code: 'not-signatory', text: `size ${maxSize} not signed: this node holds no signatory's key, and passes on only the notes it keeps` }
  else {
    const budget = budgets.get(chain) ?? signBudget()
    budgets.set(chain, budget)
    try {
      const r = await signRequestedSize(chain, key, maxSize, budget)
      if (r === 'signed') failing.delete(chain)
      else if (r !== 'kept') why = { code: r, text: declined(chain, maxSize, r) }
    } catch (err) {
      why = notSigned(chain, maxSize, err)
    }
  }
  const notes = servedCheckpoints(chain, maxSize).filter(n => Buffer.byteLength(n) <= LIMITS.checkpoint)
  // Said only when the asker does not get that size (a note of it kept here is served as it is).
  if (why === undefined || notes.some(n => noteSize(n) === maxSize)) return { notes }
  return { notes, unsigned: why.text, unsignedCode: why.code }
}

/** A note's tree size (served notes were judged when kept). */
function noteSize (note: string): number | undefined {
  try {
    return readCheckpointNote(note).checkpoint.size
  } catch {
    return undefined
  }
}

/** Why a signatory's node declines to sign `size`, in words for the asker's log and an older Petal's. */
function declined (chain: Chain, size: number, code: Exclude<UnsignedCode, 'busy' | 'disk' | 'not-signatory'>): string {
  const tip = chain.tip().height
  switch (code) {
    case 'tree': return `size ${size} not signed: this node's chain has ${tip + 1} blocks`
    case 'not-final': return `size ${size} not signed: not final at this node's tip #${tip} (final once it reaches #${size - 1 + chain.params.maxReorgDepth})`
    case 'not-vouched': return `size ${size} not signed: this node's key does not vouch for it (not an active signatory at its tip, or added above height ${size - 1})`
    case 'budget': return `size ${size} not signed: this node's budget of notes signed for peers (30 a minute) is spent (ask again in a minute)`
  }
}

/** Why a size asked for was not signed, for the peer; a disk's failure logged (until review56 it was swallowed, silent). */
function notSigned (chain: Chain, size: number, err: unknown): { code: 'busy' | 'disk', text: string } {
  const code = errorCode(err)
  if (code === 'ABORTED' || code === 'LOCK_TIMEOUT') return { code: 'busy', text: `size ${size} not signed: this node's index was busy (ask again)` }
  const details = (err as { details?: { systemCode?: unknown } }).details
  const sys = typeof details?.systemCode === 'string' ? details.systemCode : code ?? 'unknown'
  if (failing.get(chain) !== sys) {
    failing.set(chain, sys)
    chain.logger.warn('a checkpoint a peer asked for could not be signed: keeping it failed (logged once while it fails; the node runs on and answers what it keeps)', { size, code: sys, error: errorMessage(err) })
  }
  return { code: 'disk', text: `size ${size} not signed: this node could not keep it (${sys})` }
}

/**
 * Ask `peer` for its signed checkpoints no larger than this node's chain tree, and keep each under
 * the judgement gossip uses (proof/received.ts; source `peer <id>`): a note that is malformed, of
 * another chain or badly signed by an active signatory scores the peer down as a bad seal, one
 * larger than asked as a malformed answer, and the rest of that answer is dropped; what cannot be
 * checked here (no active signatory's line, another branch) is ignored. `onAccepted` sees each
 * accepted note (a witness cosigns it).
 */
export async function askCheckpoints (chain: Chain, network: Network, peer: string, o: { signal?: AbortSignal, logger: Logger, onAccepted?: (note: string) => Promise<void>, maxSize?: number }): Promise<AskedCheckpoints> {
  // A smaller size than its tree's: the peer's largest checkpoint no larger, e.g. of a size this
  // directory lacks (a signatory's node keeps those of the tips it signed at).
  const maxSize = Math.min(o.maxSize ?? Infinity, storedChainTree(chain).size)
  const r: AskedCheckpoints = { peer, received: 0, kept: 0, accepted: 0 }
  let notes: string[]
  try {
    const reply = await network.askCheckpoints(peer, maxSize, o.signal)
    notes = reply.notes
    if (reply.unsigned !== undefined) r.unsigned = [{ size: maxSize, ...(reply.unsigned.code === undefined ? {} : { code: reply.unsigned.code }), reason: reply.unsigned.text }]
  } catch (err) {
    if (err instanceof NetworkError && err.code === 'WRONG_CHAIN') return { ...r, unsupported: true }
    o.logger.debug('checkpoints not received', { peer, error: errorMessage(err) })
    return { ...r, error: errorMessage(err) }
  }
  r.received = notes.length
  for (const note of notes) {
    const verdict = judgeAnsweredCheckpoint(chain, note, maxSize)
    if (verdict === 'reject' || verdict === 'unasked') {
      network.report(peer, verdict === 'reject' ? 'bad-seal' : 'malformed', 'checkpoints reply')
      return { ...r, error: verdict === 'reject' ? 'it sent a checkpoint that is malformed, of another chain or badly signed' : 'it sent a checkpoint larger than this chain, which was not asked for' }
    }
    if (verdict === 'ignore') continue
    if (await keepReceivedCheckpoint(chain, note, peer)) r.kept++
    r.accepted++
    await o.onAccepted?.(note)
  }
  return r
}

/** What a pull holds in checkpoints once it asked its peers (docs/cli.md, `petal pull`). */
export interface PulledCheckpoints {
  /** each connected peer's answer */
  asked: AskedCheckpoints[]
  /** the tree size of the latest stored checkpoint of the chain, and of the latest final one */
  latest?: number
  final?: number
  /** each size `--checkpoint-size` asked for: whether a checkpoint of it is kept here now, else the largest below it */
  sizes?: SizeAsked[]
}

/** One `--checkpoint-size N` after the pull: what a proof here can use of it, and why not. */
export interface SizeAsked {
  size: number
  got: boolean
  /** not got: the largest size kept below it, if any */
  below?: number
  /** not got: the chain is shorter than that (`tree`), or that size is not final at its tip yet (`not-final`), or no peer sent it (`not-sent`) */
  why?: 'tree' | 'not-final' | 'not-sent'
  /** not-final: the height at which it is final */
  finalAt?: number
  /** not got: each peer that said why it did not sign that size (a signatory's node since session 57) */
  unsigned?: Array<{ peer: string, code?: string, reason: string }>
}

/**
 * Ask every connected peer at once (a pull, once synced); with `sizes`, each peer also for its
 * largest checkpoint no larger than each of them (`petal pull --checkpoint-size`), one answer each.
 */
export async function askEveryPeer (chain: Chain, network: Network, o: { signal?: AbortSignal, logger: Logger, sizes?: number[] }): Promise<AskedCheckpoints[]> {
  return await Promise.all(network.connectedPeers().map(async p => {
    const r = await askCheckpoints(chain, network, p, o)
    for (const maxSize of o.sizes ?? []) {
      if (r.error !== undefined || r.unsupported === true) break
      const s = await askCheckpoints(chain, network, p, { ...o, maxSize })
      r.received += s.received
      r.kept += s.kept
      r.accepted += s.accepted
      if (s.error !== undefined) r.error = s.error
      if (s.unsigned !== undefined) r.unsigned = [...(r.unsigned ?? []), ...s.unsigned]
    }
    return r
  }))
}

/** The sizes of the stored checkpoints a proof here would use. */
export function pulledCheckpoints (chain: Chain, asked: AskedCheckpoints[], sizes: number[] = []): PulledCheckpoints {
  const tip = chain.tip().height
  const depth = chain.params.maxReorgDepth
  const judged = [...new Set(sizes)].map((size): SizeAsked => {
    if (findCheckpoint(chain, { size }) !== undefined) return { size, got: true }
    const below = findCheckpoint(chain, { maxSize: size - 1 })?.size
    const why = size > tip + 1 ? 'tree' : size - 1 > tip - depth ? 'not-final' : 'not-sent'
    const said = asked.flatMap(a => (a.unsigned ?? []).filter(u => u.size === size).map(u => ({ peer: a.peer, ...(u.code === undefined ? {} : { code: u.code }), reason: u.reason })))
    return { size, got: false, ...(below === undefined ? {} : { below }), why, ...(why === 'not-final' ? { finalAt: size - 1 + depth } : {}), ...(said.length === 0 ? {} : { unsigned: said }) }
  })
  return { asked, latest: findCheckpoint(chain)?.size, final: findCheckpoint(chain, { final: true })?.size, ...(judged.length === 0 ? {} : { sizes: judged }) }
}
