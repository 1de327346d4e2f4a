import type { Clock } from '../util/index.js'

/**
 * What a peer did wrong (docs/protocol.md "Peer scoring"). Sending invalid data costs the whole
 * budget at once, so one offence disconnects and bans the peer; being slow or unhelpful costs
 * a little and recovers with time.
 */
export type Offence =
  | 'invalid-block'
  | 'bad-seal'
  | 'hash-mismatch'
  | 'oversized'
  | 'malformed'
  | 'bad-headers'
  | 'timeout'
  | 'slow'
  | 'unavailable'

export const PENALTY: Record<Offence, number> = {
  'invalid-block': 100,
  'bad-seal': 100,
  'hash-mismatch': 100,
  oversized: 100,
  malformed: 100,
  'bad-headers': 100,
  timeout: 10,
  // A transfer cut at the rate floor: four within the recovery time ban the peer.
  slow: 25,
  unavailable: 2
}

export const BAN_THRESHOLD = -100
/** Points recovered per minute of good behaviour. */
export const RECOVERY_PER_MINUTE = 10

export interface ScoringOptions { banMs: number }

interface Entry { score: number, at: number }

/** Scores of peers (by id) and the ban list; bans expire after `banMs`. */
export class PeerScores {
  private readonly scores = new Map<string, Entry>()
  private readonly bans = new Map<string, number>()

  constructor (private readonly clock: Clock, private readonly options: ScoringOptions) {}

  score (peer: string): number {
    const e = this.scores.get(peer)
    if (e === undefined) return 0
    const recovered = ((this.clock.now() - e.at) / 60_000) * RECOVERY_PER_MINUTE
    return Math.min(0, e.score + recovered)
  }

  /** Apply a penalty; returns true when the peer has now crossed the ban threshold. */
  penalise (peer: string, offence: Offence): boolean {
    const s = this.score(peer) - PENALTY[offence]
    this.scores.set(peer, { score: s, at: this.clock.now() })
    if (s <= BAN_THRESHOLD) {
      this.bans.set(peer, this.clock.now() + this.options.banMs)
      this.scores.delete(peer)
      return true
    }
    return false
  }

  isBanned (peer: string): boolean {
    const until = this.bans.get(peer)
    if (until === undefined) return false
    if (until > this.clock.now()) return true
    this.bans.delete(peer)
    return false
  }

  banned (): string[] {
    return [...this.bans.keys()].filter(p => this.isBanned(p))
  }
}
