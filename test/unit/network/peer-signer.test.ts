import { describe, expect, it } from 'vitest'
import { signV2 } from '../../../src/crypto/index.js'
import { PeerSigners } from '../../../src/network/peer-signer.js'
import { parseStatus, peerKeyMessage } from '../../../src/network/wire.js'
import { nullLogger, toHex } from '../../../src/util/index.js'
import { fixtureKey } from '../../helpers/chain.js'

// A status reply shows the node's signing key, signed for its own peer id (docs/protocol.md
// "status"), so a reader can tell for certain whether the peer it met is a signatory's node.
const alice = fixtureKey('alice')
const bob = fixtureKey('bob')
const chainId = 'a'.repeat(64)
const P = '12D3KooWCGNxD6T6JXpnLvRxYHGexR4mPjXq5b1PLKwH1vmiXd5N'
const Q = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const tip = { hash: 'b'.repeat(64), height: 0, parent: '0'.repeat(64), version: 2, signer: alice.id, timestamp: '2026-01-01T00:00:00.000Z', rowsRoot: 'd'.repeat(64), prevSig: '3045' + 'ab'.repeat(20), seal: '3046' + 'cd'.repeat(20), size: 4096 }

describe('the signer in a status reply', () => {
  it('is read when present, null when the node holds no key, absent from an older peer; anything else is malformed', () => {
    const sig = toHex(signV2(alice, peerKeyMessage(chainId, P)))
    expect(parseStatus({ genesis: chainId, tip }).signer).toBeUndefined()
    expect(parseStatus({ genesis: chainId, tip, signer: null }).signer).toBeNull()
    expect(parseStatus({ genesis: chainId, tip, signer: { key: alice.id, sig } }).signer).toEqual({ key: alice.id, sig })
    for (const bad of [{ key: 'alice', sig }, { key: alice.id, sig: 'xyz' }, { key: alice.id, sig: 'ab'.repeat(200) }, { key: alice.id }, 'alice', 7]) {
      expect(() => parseStatus({ genesis: chainId, tip, signer: bad })).toThrow(/malformed status/)
    }
  })

  it('is believed only for the peer id it signs and a key the chain knows', () => {
    const keys = new Map([[alice.id, alice.publicKey]])
    const signers = new PeerSigners(chainId, id => keys.get(id), nullLogger)
    const forP = { key: alice.id, sig: toHex(signV2(alice, peerKeyMessage(chainId, P))) }
    expect(signers.judge(P, forP)).toBe(alice.id)
    expect(signers.judge(P, forP), 'remembered').toBe(alice.id)
    // Another peer replaying P's proof of alice's key is not believed, nor a signature by another key.
    expect(signers.judge(Q, forP)).toBeUndefined()
    expect(signers.judge(Q, { key: alice.id, sig: toHex(signV2(bob, peerKeyMessage(chainId, Q))) })).toBeUndefined()
    // Of another chain: not believed either.
    expect(signers.judge(Q, { key: alice.id, sig: toHex(signV2(alice, peerKeyMessage('c'.repeat(64), Q))) })).toBeUndefined()
    // A key the chain does not know is not judged (this node may lack the block that adds it: a pull
    // asks before it has the blocks, and took a key added after the genesis for none); a node with
    // no key says null; an older one nothing.
    expect(signers.judge(Q, { key: bob.id, sig: toHex(signV2(bob, peerKeyMessage(chainId, Q))) })).toBeUndefined()
    keys.set(bob.id, bob.publicKey) // the block adding bob's key arrives
    expect(signers.judge(Q, { key: bob.id, sig: toHex(signV2(bob, peerKeyMessage(chainId, Q))) })).toBe(bob.id)
    expect(signers.judge(Q, null)).toBeNull()
    expect(signers.judge(Q, undefined)).toBeUndefined()
  })
})

describe('a claim of a key the chain did not know yet', () => {
  it('is judged again once the chain knows the key (a pull asks before it has the blocks)', () => {
    const keys = new Map([[alice.id, alice.publicKey]])
    const signers = new PeerSigners(chainId, id => keys.get(id), nullLogger)
    const bobs = { key: bob.id, sig: toHex(signV2(bob, peerKeyMessage(chainId, Q))) }
    const forged = { key: bob.id, sig: toHex(signV2(alice, peerKeyMessage(chainId, P))) }
    expect(signers.judge(Q, bobs)).toBeUndefined()
    expect(signers.judge(P, forged)).toBeUndefined()
    expect(signers.judgeAgain(), 'bob\'s key still unknown').toEqual([])
    keys.set(bob.id, bob.publicKey)
    // Q's proof holds now; P's claim of bob's key does not verify and is not believed.
    expect(signers.judgeAgain()).toEqual([{ peer: Q, signer: bob.id }])
    expect(signers.judgeAgain(), 'each claim once').toEqual([])
    // A later status that names no key replaces an unknown claim.
    const carol = fixtureKey('carol')
    signers.judge(P, { key: carol.id, sig: toHex(signV2(carol, peerKeyMessage(chainId, P))) })
    signers.judge(P, null)
    keys.set(carol.id, carol.publicKey)
    expect(signers.judgeAgain()).toEqual([])
  })
})
