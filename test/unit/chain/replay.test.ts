import { describe, expect, it } from 'vitest'
import { signImport } from '../../../src/chain/index.js'
import { BatchPlan, replayChain } from '../../../src/chain/replay.js'
import { newTestChain } from '../../helpers/chain.js'

describe('replay (verify, reindex)', () => {
  it('has every block signed by a genesis signer checked ahead by the workers, the first ones included', async () => {
    // 20 blocks span the genesis batch and two batches of 16: the genesis is read alone first, so
    // the batches after it carry its signers and none is left to the in-order thread.
    const t = await newTestChain()
    try {
      for (let i = 0; i < 20; i++) await signImport(t.chain, undefined, t.key)
      const ahead: number[] = []
      const r = await replayChain(t.chain, {
        toHeight: 20,
        workers: 2,
        onBlock: c => { if (c.verified?.key === t.key.publicKey.hex && c.verified.prev && c.verified.seal) ahead.push(c.file.header.height) }
      })
      expect(r.blocks).toBe(21)
      expect(ahead).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    } finally {
      t.chain.close()
    }
  })

  it('sends large blocks to the workers one per batch, small ones 16 at a time, the genesis alone', () => {
    // Heights 1–4 are 4 MiB (one per batch: 16 in one message kept one thread hashing 64 MiB while
    // the other had nothing left), 5–44 are 7 KiB, 45 is the last.
    const MiB = 1 << 20
    const sizes = [6000, ...Array<number>(4).fill(4 * MiB), ...Array<number>(41).fill(7000)]
    const asked: number[] = []
    const plan = new BatchPlan(16, MiB, h => h < sizes.length, h => { asked.push(h); return sizes[h] ?? 0 })
    const batches: number[][] = []
    for (let b = 0; plan.first(b) < sizes.length; b++) batches.push([plan.first(b), Math.min(plan.first(b + 1), sizes.length) - 1])
    expect(batches).toEqual([[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 20], [21, 36], [37, 45]])
    expect(asked).toEqual([...asked].sort((a, b) => a - b))
    // A block over the byte bound still goes, alone.
    const big = new BatchPlan(16, MiB, h => h < 3, () => 8 * MiB)
    expect([big.first(0), big.first(1), big.first(2), big.first(3)]).toEqual([0, 1, 2, 3])
  })
})
