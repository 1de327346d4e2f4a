import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto'
import { fromHex, isRecord, toHex } from '../util/index.js'
import { CryptoError } from './errors.js'

/** Passphrase-encrypted private key: scrypt key derivation, AES-256-GCM, all fields hex. */
export interface EncryptedKey {
  kdf: 'scrypt'
  n: number
  r: number
  p: number
  salt: string
  cipher: 'aes-256-gcm'
  iv: string
  tag: string
  ciphertext: string
}

/** `v` as an encrypted-key envelope, or undefined when it does not have the envelope's fields. */
export function parseEncryptedKey (v: unknown): EncryptedKey | undefined {
  if (!isRecord(v)) return undefined
  const { kdf, n, r, p, salt, cipher, iv, tag, ciphertext } = v
  if (kdf !== 'scrypt' || cipher !== 'aes-256-gcm' || typeof n !== 'number' || typeof r !== 'number' || typeof p !== 'number' ||
    typeof salt !== 'string' || typeof iv !== 'string' || typeof tag !== 'string' || typeof ciphertext !== 'string') return undefined
  return { kdf, n, r, p, salt, cipher, iv, tag, ciphertext }
}

const AAD = Buffer.from('petal/keystore/v1')
// N = 2^15 costs ~100 ms and 32 MiB per unlock: slow for guessing, fine for a signing node.
const DEFAULT_N = 1 << 15

function derive (passphrase: string, salt: Uint8Array, n: number, r: number, p: number): Buffer {
  return scryptSync(passphrase.normalize('NFC'), salt, 32, { N: n, r, p, maxmem: 256 * n * r })
}

export function encryptPrivateKey (pkcs8: Uint8Array, passphrase: string, n = DEFAULT_N): EncryptedKey {
  const salt = randomBytes(16)
  const iv = randomBytes(12)
  const c = createCipheriv('aes-256-gcm', derive(passphrase, salt, n, 8, 1), iv)
  c.setAAD(AAD)
  const ciphertext = Buffer.concat([c.update(pkcs8), c.final()])
  return { kdf: 'scrypt', n, r: 8, p: 1, salt: toHex(salt), cipher: 'aes-256-gcm', iv: toHex(iv), tag: toHex(c.getAuthTag()), ciphertext: toHex(ciphertext) }
}

export function decryptPrivateKey (env: EncryptedKey, passphrase: string): Uint8Array {
  const salt = fromHex(env.salt)
  const iv = fromHex(env.iv)
  const tag = fromHex(env.tag)
  const ct = fromHex(env.ciphertext)
  const sane = (x: number): boolean => Number.isInteger(x) && x > 0 && x <= (1 << 20)
  if (env.kdf !== 'scrypt' || env.cipher !== 'aes-256-gcm' || salt === undefined || iv === undefined || tag === undefined || ct === undefined || !sane(env.n) || !sane(env.r) || !sane(env.p)) {
    throw new CryptoError('BAD_KEY_ENVELOPE', 'encrypted key file is malformed')
  }
  try {
    const d = createDecipheriv('aes-256-gcm', derive(passphrase, salt, env.n, env.r, env.p), iv)
    d.setAAD(AAD)
    d.setAuthTag(tag)
    return new Uint8Array(Buffer.concat([d.update(ct), d.final()]))
  } catch {
    throw new CryptoError('BAD_PASSPHRASE', 'wrong passphrase for the encrypted key', { hint: 'check --passphrase-file or PETAL_PASSPHRASE' })
  }
}
