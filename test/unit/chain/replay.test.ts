import { describe, expect, it } from 'vitest'
import { signImport } from '../../../src/chain/index.js'
import { replayChain } from '../../../src/chain/replay.js'
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
})
