import type { Chain } from '../chain/index.js'
import type { BlockRecord } from '../storage/index.js'
import { nullLogger, runLoop, type Logger } from '../util/index.js'

export interface TipEvent { height: number, hash: string, timestamp: string, signer: string }
export interface ReorgEvent { from: { height: number, hash: string }, to: { height: number, hash: string }, fork: { height: number, hash: string }, depth: number }
export interface SealedEvent { height: number, hash: string, rows: number, receipts: number }

export type ApiEvent =
  | { type: 'tip', data: TipEvent }
  | { type: 'reorg', data: ReorgEvent }
  | { type: 'sealed', data: SealedEvent }

export type EventListener = (e: ApiEvent & { id: number }) => void

/**
 * What GET /events streams. Tip and reorg events come from watching the index (any process's
 * import counts: a peer's block, `petal signimportblock`, a seal), sealed events from ingest.
 * Each event gets an increasing id.
 */
export class EventHub {
  private readonly listeners = new Set<EventListener>()
  private nextId = 1

  get clients (): number { return this.listeners.size }

  subscribe (fn: EventListener): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  emit (e: ApiEvent): void {
    const withId = { ...e, id: this.nextId++ }
    for (const fn of [...this.listeners]) fn(withId)
  }
}

/**
 * Polls the index's data_version (a cheap pragma) and reports tip changes and reorgs. A reorg is
 * a previous tip that is no longer canonical: its depth is the distance to the fork point.
 */
export class ChainWatcher {
  private last: BlockRecord

  constructor (private readonly chain: Chain, private readonly hub: EventHub, private readonly logger: Logger = nullLogger) {
    this.last = chain.tip()
  }

  get tip (): BlockRecord { return this.last }

  /** Look now (also called by the poll loop). */
  check (): void {
    const tip = this.chain.tip()
    if (tip.hash === this.last.hash) return
    const old = this.last
    this.last = tip
    const oldNow = this.chain.index.byHash(old.hash)
    if (oldNow !== undefined && !oldNow.canonical) {
      let fork: BlockRecord | undefined = oldNow
      while (fork !== undefined && !fork.canonical) fork = this.chain.index.byHash(fork.parent)
      if (fork !== undefined) {
        this.hub.emit({ type: 'reorg', data: { from: { height: old.height, hash: old.hash }, to: { height: tip.height, hash: tip.hash }, fork: { height: fork.height, hash: fork.hash }, depth: old.height - fork.height } })
      }
    }
    this.hub.emit({ type: 'tip', data: tipEvent(tip) })
  }

  async run (everyMs: number, signal: AbortSignal): Promise<void> {
    let version = this.chain.index.dataVersion()
    await runLoop('watching the chain for events', { signal, logger: this.logger, everyMs }, async () => {
      const v = this.chain.index.dataVersion()
      if (v !== version) { version = v; this.check() }
    })
  }
}

export function tipEvent (b: BlockRecord): TipEvent {
  return { height: b.height, hash: b.hash, timestamp: b.timestamp, signer: b.signer }
}
