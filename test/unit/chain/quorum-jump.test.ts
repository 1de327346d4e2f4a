import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildBlock, signKeyOp, type KeyOpRow, type QuorumRule } from '../../../src/block/index.js'
import { KeyState, loadCandidate, MAX_FUTURE_MS, validateOnParent } from '../../../src/chain/index.js'
import { generateSigningKey, sha256Hex, type SigningKey } from '../../../src/crypto/index.js'
import { formatTimestamp, isPetalError } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'

// The quorum of Daisy's rule jumps from 1 to floor(2·ln H) = 10 at height 149. Checked here on
// real blocks against a synthetic parent (any height, any signatory set) instead of chains grown
// to 150 blocks; test/unit/chain/keyops.test.ts crosses the jump once on a real chain.

const CHAIN = sha256Hex('quorum-jump chain')
const PARENT = sha256Hex('quorum-jump parent')
const T = Date.parse('2026-01-01T00:00:00Z')

/** Signatory state after a parent at any height: `keys` active, added at height 0. */
function keysOf (keys: SigningKey[]): KeyState {
  return KeyState.empty().apply(keys.map(k => ({ keyId: k.id, op: 'A' as const, pubkey: k.publicKey.hex, signers: [] })), 0)
}

/** Validate a real block at `height`, signed by keys[0], carrying `keyOps`, on the synthetic parent. */
async function verdict (rule: QuorumRule, height: number, keys: SigningKey[], keyOps: KeyOpRow[]): Promise<string> {
  const output = join(tmpDir(), `b${height}.db`)
  const signer = keys[0]
  if (signer === undefined) throw new Error('no signer')
  const built = await buildBlock({ output, key: signer, chainId: CHAIN, height, previousHash: PARENT, timestamp: formatTimestamp(T), keyOps, maxBytes: 1 << 20 })
  const c = await loadCandidate(output, built.seal, { maxBytes: 1 << 20, expectedHash: built.hash })
  try {
    validateOnParent(c, { chainId: CHAIN, parent: { hash: PARENT, height: height - 1, time: T }, keys: keysOf(keys), quorumRule: rule, now: T, maxFutureMs: MAX_FUTURE_MS })
    return 'OK'
  } catch (err) {
    if (isPetalError(err)) return err.code
    throw err
  }
}

const endorse = (by: SigningKey[], op: 'A' | 'R', target: SigningKey): KeyOpRow[] => by.map(k => signKeyOp(k, CHAIN, op, target.publicKey))

describe('the quorum at height 149', () => {
  const keys = Array.from({ length: 11 }, () => generateSigningKey())
  const three = keys.slice(0, 3)
  const newcomer = generateSigningKey()

  it('daisy: one endorsement adds a key at height 148, three of three signatories cannot at 149 (the key set freezes)', async () => {
    expect(await verdict('daisy', 148, three, endorse(three.slice(0, 1), 'A', newcomer))).toBe('OK')
    expect(await verdict('daisy', 149, three, endorse(three.slice(0, 1), 'A', newcomer))).toBe('KEYOP_QUORUM_NOT_MET')
    expect(await verdict('daisy', 149, three, endorse(three, 'A', newcomer))).toBe('KEYOP_QUORUM_NOT_MET')
  })

  it('daisy-capped: at 149 the quorum is capped at the 3 active signatories, so the chain stays usable', async () => {
    expect(await verdict('daisy-capped', 149, three, endorse(three.slice(0, 2), 'A', newcomer))).toBe('KEYOP_QUORUM_NOT_MET')
    expect(await verdict('daisy-capped', 149, three, endorse(three, 'A', newcomer))).toBe('OK')
  })

  it('daisy with 11 signatories: 9 endorsements fail and 10 pass, to add and to revoke', async () => {
    expect(await verdict('daisy', 150, keys, endorse(keys.slice(0, 9), 'A', newcomer))).toBe('KEYOP_QUORUM_NOT_MET')
    expect(await verdict('daisy', 150, keys, endorse(keys.slice(0, 10), 'A', newcomer))).toBe('OK')
    const target = keys[10] as SigningKey
    expect(await verdict('daisy', 151, keys, endorse(keys.slice(0, 9), 'R', target))).toBe('KEYOP_QUORUM_NOT_MET')
    expect(await verdict('daisy', 151, keys, endorse(keys.slice(0, 10), 'R', target))).toBe('OK')
  })

  it('counts only endorsers active at the parent', async () => {
    const outsider = generateSigningKey()
    expect(await verdict('daisy', 150, keys, endorse([...keys.slice(0, 9), outsider], 'A', newcomer))).toBe('KEYOP_SIGNER_NOT_AUTHORISED')
  })
})
