import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { GENESIS_PREVIOUS_HASH, keyOpMessage, prevMessage, sealMessage } from '../../../src/block/index.js'
import { parsePublicKey, sha256Hex, verifyV2 } from '../../../src/crypto/index.js'
import { fromHex } from '../../../src/util/index.js'
import { fixtureKey } from '../../helpers/chain.js'

// The v2 vectors are read from docs/block-format.md itself, so the document cannot drift.
const doc = readFileSync(join(import.meta.dirname, '../../../docs/block-format.md'), 'utf8')
const block = /<!-- vectors:v2 -->\s*```json\n([\s\S]*?)\n```/.exec(doc)?.[1]
interface Msg { text: string, sha256: string, signature: string }
const v = JSON.parse(block ?? 'null') as { signer_public_key: string, signer_key_id: string, bob_key_id: string, chain_id: string, messages: Record<string, Msg> }

describe('docs/block-format.md v2 vectors', () => {
  it('are present', () => { expect(v).not.toBeNull() })

  it('name the committed test key', () => {
    const pub = parsePublicKey(v.signer_public_key)
    expect(pub.id).toBe(v.signer_key_id)
    expect(fixtureKey('alice').id).toBe(v.signer_key_id)
    expect(fixtureKey('bob').id).toBe(v.bob_key_id)
  })

  it('give the messages the code builds, byte for byte', () => {
    const m = v.messages
    expect(m.prev?.text).toBe(prevMessage(v.chain_id, 5, (m.prev?.text ?? '').split('\n')[3] as string))
    expect(m.seal?.text).toBe(sealMessage(v.chain_id, 5, (m.seal?.text ?? '').split('\n')[3] as string, (m.seal?.text ?? '').split('\n')[4] as string))
    expect(m.keyop?.text).toBe(keyOpMessage(v.chain_id, 'A', v.bob_key_id))
    expect(m.genesis_prev?.text).toBe(prevMessage('', 0, GENESIS_PREVIOUS_HASH))
  })

  it('hash and verify: every signature checks against its message, and none against another', () => {
    const pub = parsePublicKey(v.signer_public_key)
    const msgs = Object.values(v.messages)
    for (const m of msgs) {
      expect(sha256Hex(m.text)).toBe(m.sha256)
      for (const other of msgs) {
        expect(verifyV2(pub, other.text, fromHex(m.signature) as Uint8Array), `${m.text.split('\n')[0] as string} signature on ${other.text.split('\n')[0] as string}`).toBe(other === m)
      }
    }
  })
})
