import type { CheckAhead } from './check-ahead.js'
import type { Slot } from './slot.js'

// A group's placement pays a fixed cost whatever its size (the syncfs or the fsyncs' round, the
// journal, the directory fsyncs after the renames, the index commit and its WAL fsync), so while
// catching up the placement waits briefly for a larger group when more blocks are about to be
// checked (docs/performance/catchup.md, "Session 14: catch-up").
/** Checked blocks at the head worth placing at once without waiting for more. */
export const GROUP_TARGET = 128
/** The longest the placement waits for more checked blocks (DownloadOptions.groupHoldMs). */
export const GROUP_HOLD_MS = 50

/**
 * Decides when the checked blocks at the head of the window go to placement: at once when there
 * are GROUP_TARGET of them, when the head's checks failed or those of the block above them did,
 * when the block above them is not here nor on its way (a node following the tip never waits),
 * or when the window is full and holds fewer than GROUP_TARGET blocks (heights remain that cannot
 * be asked for until a group is placed, and the group cannot reach its target: a hold would only
 * drain the transfers in flight; with 1 MB blocks the window's 64 MiB holds 64 of them;
 * docs/performance/pull.md, "Session 50"); else after at most `holdMs`. A full window of small
 * blocks (512 slots) is held as before: the blocks in it can make up GROUP_TARGET.
 */
export class GroupGate {
  private heldSince: number | undefined

  constructor (private readonly holdMs = GROUP_HOLD_MS, private readonly now: () => number = () => performance.now()) {}

  /** Whether to place now; `slots` start at the head, none of them being placed; `full` when heights remain to be asked for and the window has no room for them. */
  due (slots: readonly Slot[], checks: Pick<CheckAhead, 'passed' | 'settled'>, full = false): boolean {
    // Read within the list only: a read past its end deoptimised this code
    // (docs/performance/catchup.md, "Session 50: the catch-up's last deoptimisations of Petal's code (catchup50)").
    const end = Math.min(GROUP_TARGET, slots.length)
    let n = 0
    while (n < end) {
      const s = slots[n] as Slot
      if (s.state.kind !== 'fetched' || !checks.passed(s)) break
      n++
    }
    const above = n < slots.length ? slots[n] as Slot : undefined
    const next = above === undefined ? 'none' : above.state.kind
    // A block above whose checks failed ends the group where it is: nothing more can join it.
    if (n === 0 || n >= GROUP_TARGET || (full && slots.length < GROUP_TARGET) || (next !== 'fetched' && next !== 'fetching') || (next === 'fetched' && checks.settled(above as Slot))) return this.open()
    const now = this.now()
    this.heldSince ??= now
    return now - this.heldSince >= this.holdMs ? this.open() : false
  }

  /** While holding, the milliseconds until the hold ends (the loop wakes then at the latest). */
  msLeft (): number | undefined {
    return this.heldSince === undefined ? undefined : Math.max(1, this.heldSince + this.holdMs - this.now())
  }

  private open (): true {
    this.heldSince = undefined
    return true
  }
}
