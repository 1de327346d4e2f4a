import type { SealVerdict } from '../chain/index.js'
import type { WireHeader } from '../network/index.js'
import { SyncError } from './errors.js'
import { RANGE_BLOCK_BYTES, RANGE_MAX_BYTES } from './window-limits.js'

/** One download of a block from one peer, into its own file in tmp/; `controller.abort()` says it is no longer wanted. */
export interface FetchRequest { readonly peer: string, readonly file: string, readonly controller: { abort: () => void } }

/**
 * Where one height of the download window stands. Only the fields of the current state exist,
 * and a slot moves between states only through the methods of `Slot`, each of which checks it
 * starts from the state it expects (as lodestar's range-sync batches do):
 *
 * ```
 *   waiting ──start──▶ fetching ──succeeded──▶ fetched ──importing──▶ importing ──importDone──▶ done
 *     ▲  │               │  ▲ hedge        │
 *     │  │ nextRound     │  └──            │ wrongBytes (its checks found another hash)
 *     │  ▼               │ failed (last request)
 *     └──┴───────────────┴─────────────────┘
 *   waiting ──giveUp──▶ unavailable
 * ```
 */
export type SlotState =
  /** Needs a peer. `tried` failed in this round; a new round starts no earlier than `notBefore`. */
  | { readonly kind: 'waiting', readonly round: number, readonly tried: ReadonlySet<string>, readonly notBefore: number }
  /** Requested from one peer, or two once hedged; the first complete file wins. */
  | { readonly kind: 'fetching', readonly round: number, readonly tried: ReadonlySet<string>, readonly requests: ReadonlyMap<string, FetchRequest>, readonly since: number }
  /**
   * A file waits in tmp/ for its turn to be imported (`head`: its first bytes, FetchedBlock's). Its
   * bytes hash to the header's hash, checked by the transfer, or by the block's checks when
   * `hashed` is false (the range receive left it to them: RangeItem's `hashLater`).
   */
  | { readonly kind: 'fetched', readonly round: number, readonly tried: ReadonlySet<string>, readonly file: string, readonly seal: string, readonly from: string, readonly size?: number, readonly head?: Uint8Array, readonly hashed?: boolean }
  | { readonly kind: 'importing', readonly file: string, readonly from: string }
  /** The chain took the file (or refused it, which ends the download). */
  | { readonly kind: 'done' }
  /** Every candidate failed in every round. */
  | { readonly kind: 'unavailable' }

export type SlotKind = SlotState['kind']

type Of<K extends SlotKind> = Extract<SlotState, { kind: K }>

/** How many of the slots that share it are waiting: the scheduler walks its window for them only while some are. */
export class WaitingCount { n = 0 }

export class Slot {
  private current: SlotState = { kind: 'waiting', round: 0, tried: new Set(), notBefore: 0 }

  /** `sealChecked`: the header's seal as the header feed verified it (the block's checks reuse it). `waiting`: counts this slot while it waits. */
  constructor (readonly header: WireHeader, readonly sealChecked?: SealVerdict, private readonly waiting?: WaitingCount) {
    if (waiting !== undefined) waiting.n++
  }

  get height (): number { return this.header.height }
  get state (): SlotState { return this.current }

  /** waiting → fetching: ask `peer`. */
  start (req: FetchRequest, now: number): void {
    const s = this.expect('waiting', 'start')
    this.set({ kind: 'fetching', round: s.round, tried: s.tried, requests: new Map([[req.peer, req]]), since: now })
  }

  /** fetching → fetching: ask a second peer while the first one is slow. */
  hedge (req: FetchRequest): void {
    const s = this.expect('fetching', 'hedge')
    if (s.requests.has(req.peer)) throw wrongState(this, 'hedge with the peer already asked')
    this.set({ ...s, requests: new Map([...s.requests, [req.peer, req]]) })
  }

  /** Is the file `peer` is sending still wanted? (False for the loser of a hedge, or after close.) */
  isFetchingFrom (peer: string): boolean {
    return this.current.kind === 'fetching' && this.current.requests.has(peer)
  }

  /** fetching → fetched: `peer` delivered (`size` bytes, starting with `head`; `hashed` false: not hashed yet). Returns the other requests, which the caller aborts. */
  succeeded (peer: string, seal: string, size?: number, head?: Uint8Array, hashed?: boolean): FetchRequest[] {
    const s = this.expect('fetching', 'succeeded')
    const req = s.requests.get(peer)
    if (req === undefined) throw wrongState(this, `succeeded from ${peer}, which was not asked`)
    this.set({ kind: 'fetched', round: s.round, tried: s.tried, file: req.file, seal, from: peer, size, head, hashed })
    return [...s.requests.values()].filter(r => r !== req)
  }

  /** fetching → fetching (another request is still out) or waiting: `peer` failed this round. */
  failed (peer: string): void {
    const s = this.expect('fetching', 'failed')
    if (!s.requests.has(peer)) throw wrongState(this, `failed from ${peer}, which was not asked`)
    const tried = new Set(s.tried).add(peer)
    const requests = new Map(s.requests)
    requests.delete(peer)
    this.set(requests.size > 0
      ? { ...s, tried, requests }
      : { kind: 'waiting', round: s.round, tried, notBefore: 0 })
  }

  /** fetched → waiting: the file's checks found it is not the block asked for (a transfer the receive did not hash): `from` failed this round, as a transfer with the wrong bytes does. The checks consumed the file. */
  wrongBytes (): void {
    const s = this.expect('fetched', 'wrongBytes')
    this.set({ kind: 'waiting', round: s.round, tried: new Set(s.tried).add(s.from), notBefore: 0 })
  }

  /** waiting → waiting: every candidate failed; forget them and try again after `delayMs`. */
  nextRound (now: number, delayMs: number): void {
    const s = this.expect('waiting', 'nextRound')
    this.set({ kind: 'waiting', round: s.round + 1, tried: new Set(), notBefore: now + delayMs })
  }

  /** waiting → unavailable. */
  giveUp (): void {
    this.expect('waiting', 'giveUp')
    this.set({ kind: 'unavailable' })
  }

  /** fetched → importing: returns what to import. */
  importing (): { file: string, seal: string, from: string } {
    const s = this.expect('fetched', 'importing')
    this.set({ kind: 'importing', file: s.file, from: s.from })
    return { file: s.file, seal: s.seal, from: s.from }
  }

  /** importing → done: the chain has taken the file, or refused it (and it is gone). */
  importDone (): void {
    this.expect('importing', 'importDone')
    this.set({ kind: 'done' })
  }

  /** Requests still out and files still held, for cleanup when the download ends. */
  leftovers (): { requests: FetchRequest[], file?: string } {
    const s = this.current
    if (s.kind === 'fetching') return { requests: [...s.requests.values()] }
    if (s.kind === 'fetched' || s.kind === 'importing') return { requests: [], file: s.file }
    return { requests: [] }
  }

  private set (next: SlotState): void {
    if (this.waiting !== undefined && (this.current.kind === 'waiting') !== (next.kind === 'waiting')) this.waiting.n += next.kind === 'waiting' ? 1 : -1
    this.current = next
  }

  private expect<K extends SlotKind> (kind: K, transition: string): Of<K> {
    const s = this.current
    if (!isKind(s, kind)) throw wrongState(this, `${transition} needs state ${kind}`)
    return s
  }
}

function isKind<K extends SlotKind> (s: SlotState, kind: K): s is Of<K> {
  return s.kind === kind
}

function wrongState (slot: Slot, what: string): SyncError {
  return new SyncError('WRONG_SLOT_STATE', `download scheduler bug at height ${slot.height}: ${what}, but the slot is ${slot.state.kind}`, {
    details: { height: slot.height, state: slot.state.kind }
  })
}

/**
 * The slots from index `i` on that `peer` can be asked for in one range request (at most `max`):
 * consecutive, waiting and due, not failed by it this round, small, within the byte budget, and
 * (after the first) served by it (`serves`).
 */
export function rangeRun (slots: readonly Slot[], i: number, peer: string, now: number, max: number, serves: (height: number) => boolean): Slot[] {
  const run: Slot[] = []
  let bytes = 0
  for (let j = i; j < slots.length && run.length < max; j++) {
    const slot = slots[j] as Slot
    const s = slot.state
    if (s.kind !== 'waiting' || s.notBefore > now || s.tried.has(peer) || slot.header.size > RANGE_BLOCK_BYTES) break
    if (run.length > 0 && (bytes + slot.header.size > RANGE_MAX_BYTES || !serves(slot.height))) break
    run.push(slot)
    bytes += slot.header.size
  }
  return run
}
