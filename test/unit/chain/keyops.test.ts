import { describe, expect, it } from 'vitest'
import type { QuorumRule } from '../../../src/block/index.js'
import { createEndorsement, parseEndorsement, signImport, type Chain } from '../../../src/chain/index.js'
import { generateSigningKey, type SigningKey } from '../../../src/crypto/index.js'
import { isPetalError } from '../../../src/util/index.js'
import { newTestChain } from '../../helpers/chain.js'

function endorsements (chain: Chain, by: SigningKey[], op: 'A' | 'R', target: SigningKey): ReturnType<typeof parseEndorsement>[] {
  return by.map(s => parseEndorsement(JSON.stringify(createEndorsement(s, chain.chainId, op, target.publicKey)), chain.chainId))
}

async function code (p: Promise<unknown>): Promise<string> {
  try { await p; return 'OK' } catch (err) { if (isPetalError(err)) return err.code; throw err }
}

/** Empty blocks up to `height` (the tip's height afterwards). */
async function fillTo (chain: Chain, key: SigningKey, height: number): Promise<void> {
  while (chain.tip().height < height) await signImport(chain, undefined, key)
}

async function chainWithSigners (rule: QuorumRule, n: number): Promise<{ chain: Chain, keys: SigningKey[] }> {
  const keys = Array.from({ length: n }, () => generateSigningKey())
  const { chain } = await newTestChain({ key: keys[0], consensus: { quorumRule: rule } })
  // Under every rule a lone genesis signatory can add the second key; then add one per block.
  for (let i = 1; i < n; i++) {
    const active = keys.slice(0, i)
    await signImport(chain, undefined, keys[0] as SigningKey, { keyOps: endorsements(chain, active, 'A', keys[i] as SigningKey) })
  }
  return { chain, keys }
}

describe('key operations across heights', () => {
  it('a key added at height H signs from H+1, and is refused once revoked (daisy-capped)', async () => {
    const { chain, keys: [a, b] } = await chainWithSigners('daisy-capped', 2) as { chain: Chain, keys: SigningKey[] }
    const addedAt = chain.tip().height
    expect(chain.keysAt(chain.tip()).get((b as SigningKey).id)?.addedAt).toBe(addedAt)
    expect((await signImport(chain, undefined, b as SigningKey)).status).toBe('extended')
    // Q = min(1, 2) = 1 below 149: one endorsement revokes.
    await signImport(chain, undefined, a as SigningKey, { keyOps: endorsements(chain, [a as SigningKey], 'R', b as SigningKey) })
    const revokedAt = chain.tip().height
    expect(await code(signImport(chain, undefined, b as SigningKey))).toBe('SIGNER_REVOKED')
    // Key state by height: the key was active between addedAt and revokedAt.
    expect(chain.keysAt(chain.get(revokedAt - 1) as never).isActive((b as SigningKey).id)).toBe(true)
    expect(chain.keysAt(chain.get(revokedAt) as never).isActive((b as SigningKey).id)).toBe(false)
    expect(chain.keysAt(chain.get(addedAt - 1) as never).get((b as SigningKey).id)).toBeUndefined()
    // A revoked key cannot come back.
    expect(await code(signImport(chain, undefined, a as SigningKey, { keyOps: endorsements(chain, [a as SigningKey], 'A', b as SigningKey) }))).toBe('KEYOP_KEY_REVOKED')
    chain.close()
  })

  it('majority: with 4 signatories, 2 endorsements are too few and 3 suffice', async () => {
    const { chain, keys } = await chainWithSigners('majority', 4)
    const newcomer = generateSigningKey()
    expect(chain.keysAt(chain.tip()).activeCount).toBe(4)
    expect(await code(signImport(chain, undefined, keys[0] as SigningKey, { keyOps: endorsements(chain, keys.slice(0, 2), 'A', newcomer) }))).toBe('KEYOP_QUORUM_NOT_MET')
    expect(await code(signImport(chain, undefined, keys[0] as SigningKey, { keyOps: endorsements(chain, keys.slice(0, 3), 'A', newcomer) }))).toBe('OK')
    // Revoking under majority: 5 active now, so 3 of them are needed; the revoked key then cannot sign.
    const target = keys[3] as SigningKey
    expect(await code(signImport(chain, undefined, keys[0] as SigningKey, { keyOps: endorsements(chain, keys.slice(0, 2), 'R', target) }))).toBe('KEYOP_QUORUM_NOT_MET')
    expect(await code(signImport(chain, undefined, keys[0] as SigningKey, { keyOps: endorsements(chain, keys.slice(0, 3), 'R', target) }))).toBe('OK')
    expect(chain.keysAt(chain.tip()).activeCount).toBe(4)
    expect(await code(signImport(chain, undefined, target))).toBe('SIGNER_REVOKED')
    chain.close()
  })

  it('daisy below height 149: one endorsement adds a key and one revokes it', async () => {
    const { chain, keys: [a, b] } = await chainWithSigners('daisy', 2) as { chain: Chain, keys: SigningKey[] }
    expect(chain.keysAt(chain.tip()).isActive((b as SigningKey).id)).toBe(true)
    expect(await code(signImport(chain, undefined, a as SigningKey, { keyOps: endorsements(chain, [b as SigningKey], 'R', a as SigningKey) }))).toBe('OK')
    expect(await code(signImport(chain, undefined, a as SigningKey))).toBe('SIGNER_REVOKED')
    expect(await code(signImport(chain, undefined, b as SigningKey))).toBe('OK')
    chain.close()
  })

  it('daisy on a real chain: one endorsement adds a key at height 148, and no longer at 149', { timeout: 120_000 }, async () => {
    // One chain across the jump; every rule and signatory count at the jump is in quorum-jump.test.ts.
    const { chain, keys } = await chainWithSigners('daisy', 3)
    const [a] = keys as [SigningKey]
    await fillTo(chain, a, 147)
    expect(await code(signImport(chain, undefined, a, { keyOps: endorsements(chain, [a], 'A', generateSigningKey()) }))).toBe('OK')
    expect(chain.tip().height).toBe(148)
    expect(await code(signImport(chain, undefined, a, { keyOps: endorsements(chain, keys, 'A', generateSigningKey()) }))).toBe('KEYOP_QUORUM_NOT_MET')
    expect(await code(signImport(chain, undefined, a))).toBe('OK')
    chain.close()
  })

  it('a node\'s own key is never a signatory unless the chain adds it (Daisy defect C1)', async () => {
    const { chain } = await newTestChain()
    const stranger = generateSigningKey()
    expect(await code(signImport(chain, undefined, stranger))).toBe('SIGNER_NOT_AUTHORISED')
    expect(chain.tip().height).toBe(0)
    chain.close()
  })
})
