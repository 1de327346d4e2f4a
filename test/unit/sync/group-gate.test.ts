import { describe, expect, it } from 'vitest'
import type { WireHeader } from '../../../src/network/index.js'
import { GROUP_HOLD_MS, GROUP_TARGET, GroupGate } from '../../../src/sync/group-gate.js'
import { Slot } from '../../../src/sync/slot.js'

/** `n` slots from height 1: the first `fetched` have their file, the next `fetching` are asked for, the rest wait. */
function window (n: number, fetched: number, fetching = 0): Slot[] {
  return Array.from({ length: n }, (_, i) => {
    const h: WireHeader = { height: i + 1, hash: `h${i + 1}`, parent: `h${i}`, seal: 's', size: 100 } as unknown as WireHeader
    const slot = new Slot(h)
    if (i < fetched + fetching) slot.start({ peer: 'A', file: `f${i}`, controller: new AbortController() }, 0)
    if (i < fetched) slot.succeeded('A', 's', 100)
    return slot
  })
}

/** Checks passed for the first `k` slots of `slots`. */
function checked (slots: Slot[], k: number): { passed: (s: Slot) => boolean, settled: (s: Slot) => boolean } {
  const ok = new Set(slots.slice(0, k))
  return { passed: s => ok.has(s), settled: s => ok.has(s) }
}

describe('GroupGate', () => {
  it('places GROUP_TARGET checked blocks at once', () => {
    const slots = window(GROUP_TARGET + 10, GROUP_TARGET + 10)
    const gate = new GroupGate(GROUP_HOLD_MS, () => 0)
    expect(gate.due(slots, checked(slots, GROUP_TARGET))).toBe(true)
    expect(gate.msLeft()).toBeUndefined()
  })

  it('holds a few checked blocks while the ones above are being checked or fetched, for at most GROUP_HOLD_MS', () => {
    let now = 1000
    const gate = new GroupGate(GROUP_HOLD_MS, () => now)
    for (const slots of [window(20, 20), window(20, 5, 15)]) {
      const checks = checked(slots, 5)
      now = 1000
      expect(gate.due(slots, checks)).toBe(false)
      expect(gate.msLeft()).toBe(GROUP_HOLD_MS)
      now += GROUP_HOLD_MS - 1
      expect(gate.due(slots, checks)).toBe(false)
      expect(gate.msLeft()).toBe(1)
      now += 1
      expect(gate.due(slots, checks)).toBe(true)
      expect(gate.msLeft()).toBeUndefined()
    }
  })

  it('ends a hold as soon as GROUP_TARGET blocks are checked', () => {
    const now = 0
    const gate = new GroupGate(GROUP_HOLD_MS, () => now)
    const slots = window(GROUP_TARGET + 1, GROUP_TARGET + 1)
    expect(gate.due(slots, checked(slots, 3))).toBe(false)
    expect(gate.due(slots, checked(slots, GROUP_TARGET))).toBe(true)
  })

  it('never holds the checked head of a full window smaller than GROUP_TARGET: nothing above it can be asked for until a group is placed', () => {
    const gate = new GroupGate(GROUP_HOLD_MS, () => 0)
    for (const slots of [window(20, 20), window(20, 5, 15)]) {
      expect(gate.due(slots, checked(slots, 5), true)).toBe(true)
      expect(gate.msLeft()).toBeUndefined()
    }
    // A hold begun while the window had room ends once it is full.
    const slots = window(20, 5, 15)
    expect(gate.due(slots, checked(slots, 5), false)).toBe(false)
    expect(gate.due(slots, checked(slots, 5), true)).toBe(true)
    expect(gate.msLeft()).toBeUndefined()
    // A full window that holds GROUP_TARGET blocks or more (small blocks: 512 slots) can make up the target: held as before.
    const large = window(GROUP_TARGET + 10, 5, GROUP_TARGET + 5)
    expect(gate.due(large, checked(large, 5), true)).toBe(false)
    expect(gate.msLeft()).toBe(GROUP_HOLD_MS)
  })

  it('never holds when nothing more is on its way (a node following the tip), nor a head whose checks failed', () => {
    const gate = new GroupGate(GROUP_HOLD_MS, () => 0)
    const one = window(1, 1)
    expect(gate.due(one, checked(one, 1))).toBe(true)
    // The blocks above the checked ones still wait for a peer: nothing is about to be checked.
    const waiting = window(10, 3)
    expect(gate.due(waiting, checked(waiting, 3))).toBe(true)
    const failedHead = window(10, 10)
    expect(gate.due(failedHead, checked(failedHead, 0))).toBe(true)
    expect(gate.msLeft()).toBeUndefined()
  })

  it('does not hold for a block above the checked ones whose checks failed: nothing more joins that group', () => {
    // Blocks 1-3 passed, block 4 failed its checks (settled, not passed), 5-20 are being checked.
    const slots = window(20, 20)
    const ok = new Set(slots.slice(0, 3))
    const settled = new Set(slots.slice(0, 4))
    const gate = new GroupGate(GROUP_HOLD_MS, () => 0)
    expect(gate.due(slots, { passed: s => ok.has(s), settled: s => settled.has(s) })).toBe(true)
    expect(gate.msLeft()).toBeUndefined()
    // While block 4 is still being checked, the gate holds as before.
    expect(gate.due(slots, { passed: s => ok.has(s), settled: s => ok.has(s) })).toBe(false)
  })
})
