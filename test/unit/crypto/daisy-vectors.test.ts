import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { keyIdOf, parsePublicKey, verifyV1, verifyV2 } from '../../../src/crypto/index.js'
import { fromHex } from '../../../src/util/index.js'

// Daisy's embedded default genesis (reference/daisy-spec.md §1.6), kept in genesis/daisy-default.json.
const v = JSON.parse(readFileSync(join(import.meta.dirname, '../../../genesis/daisy-default.json'), 'utf8')) as Record<string, string>
const hex = (s: string): Uint8Array => fromHex(s) as Uint8Array

describe('Daisy default genesis (v1 golden vectors)', () => {
  const pub = parsePublicKey(v.creator_public_key_spki as string)

  it('derives the creator key id "1:" + sha256(SPKI DER)', () => {
    expect(keyIdOf(pub.spki)).toBe(v.creator_public_key)
    expect(pub.id).toBe(v.creator_public_key)
  })

  it('verifies the genesis hash signature over the raw digest, which has a high S', () => {
    expect(verifyV1(pub, hex(v.genesis_block_hash as string), hex(v.genesis_block_hash_signature as string))).toBe(true)
    // The same bytes are not a valid v2 signature: v2 hashes a message and requires low S.
    expect(verifyV2(pub, v.genesis_block_hash as string, hex(v.genesis_block_hash_signature as string))).toBe(false)
  })

  it('verifies PreviousBlockHashSignature over the genesis previous-hash constant', () => {
    expect(verifyV1(pub, hex(v.previous_block_hash as string), hex(v.previous_block_hash_signature as string))).toBe(true)
  })

  it('verifies the self-signed _keys row over the key hash bytes', () => {
    expect(verifyV1(pub, hex((v.creator_public_key as string).slice(2)), hex(v.keyop_signature as string))).toBe(true)
  })

  it('rejects the vectors with one flipped bit', () => {
    const digest = hex(v.genesis_block_hash as string)
    digest[0] = (digest[0] as number) ^ 1
    expect(verifyV1(pub, digest, hex(v.genesis_block_hash_signature as string))).toBe(false)
  })
})
