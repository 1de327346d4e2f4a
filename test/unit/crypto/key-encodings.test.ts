import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { ECDH, generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseKeyOpRow, signKeyOp } from '../../../src/block/index.js'
import { createEndorsement, parseEndorsement } from '../../../src/chain/index.js'
import { importPrivateKey, parsePublicKey, privateKeyToPem } from '../../../src/crypto/index.js'
import { Keystore } from '../../../src/storage/index.js'
import { isPetalError } from '../../../src/util/index.js'
import { fixtureKey } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')
const ALICE_PEM = join(import.meta.dirname, '..', '..', 'fixtures', 'keys', 'alice.pem')

function codeOf (fn: () => unknown): string {
  try { fn(); return 'OK' } catch (err) { if (isPetalError(err)) return err.code; throw err }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const canonical = alice.publicKey.spki
const point = canonical.subarray(26) // 04 ‖ X ‖ Y
const algId = Buffer.from(canonical.subarray(2, 23)) // SEQUENCE { ecPublicKey, prime256v1 }

/** SPKI DER around a point of any length: SEQUENCE { algId, BIT STRING 00 ‖ point }. */
function spkiOf (p: Uint8Array): Buffer {
  const bits = Buffer.concat([Buffer.of(0x03, p.length + 1, 0x00), p])
  const body = Buffer.concat([algId, bits])
  return Buffer.concat([Buffer.of(0x30, body.length), body])
}
const pem = (der: Uint8Array): string => `-----BEGIN PUBLIC KEY-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PUBLIC KEY-----\n`

// Every other way to write alice's public key. Those that still decode to her point are
// PUBLIC_KEY_NOT_CANONICAL (and name her canonical id); the rest are not P-256 keys at all.
const compressed = ECDH.convertKey(point, 'prime256v1', undefined, undefined, 'compressed') as Buffer
const hybrid = ECDH.convertKey(point, 'prime256v1', undefined, undefined, 'hybrid') as Buffer
const explicit = execFileSync('openssl', ['ec', '-in', ALICE_PEM, '-pubout', '-param_enc', 'explicit', '-outform', 'DER'], { stdio: ['ignore', 'pipe', 'ignore'] })
const longLength = Buffer.concat([Buffer.of(0x30, 0x81, canonical.length - 2), canonical.subarray(2)])
const ALIASES: Array<[string, Uint8Array | string, 'PUBLIC_KEY_NOT_CANONICAL' | 'BAD_PUBLIC_KEY']> = [
  [`compressed point (${Buffer.from(compressed.subarray(0, 1)).toString('hex')})`, spkiOf(compressed), 'PUBLIC_KEY_NOT_CANONICAL'],
  [`hybrid point (${Buffer.from(hybrid.subarray(0, 1)).toString('hex')})`, spkiOf(hybrid), 'PUBLIC_KEY_NOT_CANONICAL'],
  ['explicit curve parameters', new Uint8Array(explicit), 'PUBLIC_KEY_NOT_CANONICAL'],
  ['a trailing byte', Buffer.concat([canonical, Buffer.of(0)]), 'PUBLIC_KEY_NOT_CANONICAL'],
  ['a non-minimal DER length', longLength, 'PUBLIC_KEY_NOT_CANONICAL'],
  ['compressed point as PEM', pem(spkiOf(compressed)), 'PUBLIC_KEY_NOT_CANONICAL'],
  ['explicit parameters as PEM', pem(explicit), 'PUBLIC_KEY_NOT_CANONICAL'],
  ['the raw 65-byte point', point, 'BAD_PUBLIC_KEY'],
  ['the raw 33-byte compressed point', compressed, 'BAD_PUBLIC_KEY'],
  ['upper-case hex', hex(canonical).toUpperCase(), 'BAD_PUBLIC_KEY'],
  ['a private key PEM', privateKeyToPem(alice), 'BAD_PUBLIC_KEY']
]

describe('one P-256 key has one encoding, and one id', () => {
  it('accepts the canonical 91-byte SPKI as bytes, hex and PEM, all with the same id', () => {
    for (const input of [canonical, hex(canonical), pem(canonical)]) expect(parsePublicKey(input).id).toBe(alice.id)
  })

  for (const [name, input, code] of ALIASES) {
    it(`refuses ${name} (${code})`, () => {
      expect(codeOf(() => parsePublicKey(input))).toBe(code)
      if (typeof input !== 'string') expect(codeOf(() => parsePublicKey(hex(input)))).toBe(code)
      if (code === 'PUBLIC_KEY_NOT_CANONICAL') {
        try { parsePublicKey(input) } catch (err) { expect((err as { details: Record<string, unknown> }).details.canonicalId).toBe(alice.id) }
      }
    })
  }

  it('refuses a key on another curve', () => {
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ type: 'spki', format: 'der' })
    expect(codeOf(() => parsePublicKey(new Uint8Array(k1)))).toBe('BAD_PUBLIC_KEY')
  })

  it('a _keys row or an endorsement naming a key in another encoding is KEYOP_KEY_NOT_CANONICAL', () => {
    const chainId = 'aa'.repeat(32)
    const real = signKeyOp(alice, chainId, 'A', fixtureKey('bob').publicKey)
    for (const [, alias, code] of ALIASES.filter(a => typeof a[1] !== 'string' && a[2] === 'PUBLIC_KEY_NOT_CANONICAL')) {
      const row = { op: 'A', pubkey_hash: real.keyId, pubkey: hex(alias as Uint8Array), sigkey_hash: real.signer, signature: real.signature, metadata: null }
      expect(code).toBe('PUBLIC_KEY_NOT_CANONICAL')
      expect(codeOf(() => parseKeyOpRow(row, 0))).toBe('KEYOP_KEY_NOT_CANONICAL')
      const e = { ...createEndorsement(alice, chainId, 'A', fixtureKey('bob').publicKey), pubkey: hex(alias as Uint8Array) }
      expect(codeOf(() => parseEndorsement(JSON.stringify(e), chainId))).toBe('KEYOP_KEY_NOT_CANONICAL')
    }
  })

  it('a private key whose embedded public point is compressed gets the canonical id (keystore import)', () => {
    const sec1 = execFileSync('openssl', ['ec', '-in', ALICE_PEM, '-conv_form', 'compressed', '-outform', 'DER'], { stdio: ['ignore', 'pipe', 'ignore'] })
    expect(importPrivateKey(new Uint8Array(sec1)).id).toBe(alice.id)
    const ks = new Keystore(join(tmpDir(), 'keystore'))
    expect(ks.import(new Uint8Array(sec1)).id).toBe(alice.id)
    expect(ks.load().publicKey.hex).toBe(hex(canonical))
  })

  // OpenSSL (so Node) reads a PEM block only at the margin: a key indented as a whole, as pasted
  // from YAML, Markdown or a mail, was refused by `petal keys import`.
  it('reads a PEM key indented as a whole (spaces, tabs, CRLF), private and public', () => {
    const text = readFileSync(ALICE_PEM, 'utf8')
    const variants = [
      text.replace(/^/gm, '    '),
      text.replace(/^/gm, '\t'),
      text.replace(/^/gm, '  ').replace(/\n/g, ' \r\n'),
      `key: |\n${text.replace(/^(?=.)/gm, '  ')}`
    ]
    for (const v of variants) expect(importPrivateKey(v).id, JSON.stringify(v.slice(0, 40))).toBe(alice.id)
    for (const v of [pem(canonical).replace(/^/gm, '    '), pem(canonical).replace(/^/gm, '\t')]) expect(parsePublicKey(v).id).toBe(alice.id)
    // What is not a key stays a coded error; an encrypted PEM says so.
    expect(codeOf(() => importPrivateKey(text.replace('MIG', '  MIG').replace(/[A-Za-z0-9]{10}/, '!!!!!!!!!!')))).toBe('BAD_PRIVATE_KEY')
    const encrypted = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString()
    expect(() => importPrivateKey(encrypted)).toThrow(expect.objectContaining({ code: 'BAD_PRIVATE_KEY', message: expect.stringContaining('encrypted') }))
  })
})
