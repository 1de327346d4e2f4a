// Plain verify checks a block's two signatures in one native call (verifyPreviousAndSeal, the
// addon's verify2: one inversion for both s values once the signer's key has a table, after 64
// uses in a worker thread). In a chain long enough for each of the two workers to build its table
// (review29), a seal that fails on its own — its high-S twin (valid ECDSA, refused by the low-S
// rule), the seal of the block below, the same message sealed by another key — is refused at its
// height with BAD_SEAL, beside a previous-hash signature that verifies; and the untouched chain verifies.
import { describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { p256 } from '@noble/curves/nist.js'
import { signImport, type VerifyReport } from '../../../src/chain/index.js'
import { signSeal, type BlockHeader } from '../../../src/block/index.js'
import { generateSigningKey } from '../../../src/crypto/index.js'
import { toHex, fromHex } from '../../../src/util/index.js'
import { newTestChain, verifyDamagedCopy } from '../../helpers/chain.js'
import { N } from '../../helpers/p256-math.js'

const BLOCKS = 140
const BAD = 130

describe('plain verify of a block\'s two signatures in one call', () => {
  it('refuses a seal that fails alone at its height, through the signer\'s table', async () => {
    const t = await newTestChain()
    for (let i = 0; i < BLOCKS; i++) await signImport(t.chain, undefined, t.key)
    const rec = t.chain.get(BAD)
    const below = t.chain.get(BAD - 1)
    if (rec === undefined || below === undefined) throw new Error('no block')
    const header = { version: 2, chainId: t.chain.chainId, height: BAD, rowsRoot: rec.rowsRoot } as unknown as BlockHeader
    t.chain.close()
    const raw = p256.Signature.fromBytes(fromHex(rec.seal) as Uint8Array, 'der')
    const high = toHex(new p256.Signature(raw.r, N - raw.s).toBytes('der'))
    const other = signSeal(generateSigningKey(), header, rec.hash)
    const path = (dir: string): string => join(dir, '0000', `block_${BAD.toString(16).padStart(8, '0')}.sig`)
    const cases: Array<[string, string | undefined, string | undefined]> = [
      ['nothing', undefined, undefined],
      ['its own seal, written again', rec.seal, undefined],
      ['its high-S twin', high, 'BAD_SEAL'],
      ['the seal of the block below', below.seal, 'BAD_SEAL'],
      ['its message sealed by another key', other, 'BAD_SEAL']
    ]
    const got: Array<{ what: string, code: string | undefined, height: number | undefined }> = []
    for (const [what, seal] of cases) {
      const f: VerifyReport['failure'] = await verifyDamagedCopy(t.dir, dir => { if (seal !== undefined) writeFileSync(path(dir), seal + '\n') })
      got.push({ what, code: f?.code, height: f?.height })
    }
    expect(got).toEqual(cases.map(([what, , code]) => ({ what, code, height: code === undefined ? undefined : BAD })))
  }, 120_000)
})
