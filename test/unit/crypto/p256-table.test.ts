// The native addon's per-key P-256 tables (src/crypto/native/p256-table.c) against OpenSSL's own
// ECDSA_do_verify (mode 2) and @noble/curves: the same verdict on valid, tampered and random
// signatures, r and s at and past the edges, digests at and above n, and the additions a table
// verification must treat apart (u1·G = u2·Q, a doubling; u1·G = −u2·Q, the point at infinity;
// u1 = 0). verifyV2 itself goes through a key's table after 64 uses: its verdicts must stay
// node:crypto's.
import { afterEach, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { p256 } from '@noble/curves/nist.js'
import { generateSigningKey, signV2, verifyV2 } from '../../../src/crypto/index.js'
import { loadNativeOpenssl, resetNativeOpenssl, type NativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n
const big = (b: Uint8Array): bigint => BigInt('0x' + (Buffer.from(b).toString('hex') || '0'))
const be = (v: bigint): Buffer => Buffer.from(v.toString(16).padStart(64, '0'), 'hex')
const mod = (a: bigint): bigint => ((a % N) + N) % N
function inv (a: bigint): bigint {
  let [o, r, s, t] = [mod(a), N, 1n, 0n]
  while (r !== 0n) { const q = o / r; [o, r, s, t] = [r, o - q * r, t, s - q * t] }
  return mod(s)
}
const rs = (r: bigint, s: bigint): Buffer => Buffer.concat([be(r), be(s)])

/** Table (mode 1) and OpenSSL (mode 2) verdicts, which must agree; and noble's for r, s in range. */
function verdict (lib: NativeOpenssl, point: Buffer, digest: Buffer, sig: Buffer): boolean {
  const key = lib.publicKey(point)
  if (key === undefined) throw new Error('not a key')
  const byTable = lib.verify(key, digest, sig, 1)
  const byOpenssl = lib.verify(key, digest, sig, 2)
  expect({ digest: digest.toString('hex'), sig: sig.toString('hex'), byTable }).toEqual({ digest: digest.toString('hex'), sig: sig.toString('hex'), byTable: byOpenssl })
  const r = big(sig.subarray(0, 32)), s = big(sig.subarray(32))
  if (r > 0n && r < N && s > 0n && s < N) expect(p256.verify(sig, digest, point, { prehash: false, lowS: false, format: 'compact' })).toBe(byOpenssl)
  return byOpenssl
}

afterEach(() => { resetNativeOpenssl() })

describe.skipIf(!nativeOpensslBuilt())('P-256 verification through a per-key table', () => {
  const lib = loadNativeOpenssl().lib as NativeOpenssl

  it('gives OpenSSL\'s verdict on valid, tampered, random and edge signatures', () => {
    let valid = 0
    for (let i = 0; i < 60; i++) {
      const d = randomBytes(32)
      const k = lib.keyFromScalar(d)
      if (k === undefined) continue
      const digest = createHash('sha256').update(randomBytes(8)).digest()
      const sig = lib.sign(k.handle, digest)
      if (verdict(lib, k.point, digest, sig)) valid++
      const bad = Buffer.from(sig)
      bad[i % 64] = (bad[i % 64] as number) ^ (1 << (i % 8))
      expect(verdict(lib, k.point, digest, bad)).toBe(false)
      const other = Buffer.from(digest)
      other[31] = (other[31] as number) ^ 1
      expect(verdict(lib, k.point, other, sig)).toBe(false)
      verdict(lib, k.point, digest, randomBytes(64))
      // High S (n − s) is valid ECDSA: both paths accept it; the low-S rule is ecdsa.ts's.
      expect(verdict(lib, k.point, digest, rs(big(sig.subarray(0, 32)), N - big(sig.subarray(32))))).toBe(true)
      const r = big(sig.subarray(0, 32)), s = big(sig.subarray(32))
      for (const [rr, ss] of [[0n, s], [r, 0n], [N, s], [r, N], [N + 1n, s], [2n ** 256n - 1n, s], [N - 1n, N - 1n], [1n, 1n]] as const) {
        expect(verdict(lib, k.point, digest, rs(rr, ss))).toBe(false)
      }
      // Digests at and above n, and 0: u1 = e·s⁻¹ is reduced (e = 0 and e = n give u1 = 0).
      const kk = randomBytes(32)
      const kp = lib.keyFromScalar(kk)
      if (kp === undefined) continue
      const x = mod(big(kp.point.subarray(1, 33)))
      const s0 = mod(x * big(d) * inv(big(kk)))
      expect(verdict(lib, k.point, be(0n), rs(x, s0))).toBe(true)
      expect(verdict(lib, k.point, be(N), rs(x, s0))).toBe(true)
      expect(verdict(lib, k.point, Buffer.alloc(32, 0xff), sig)).toBe(false)
      // u1·G = u2·Q = R/2 (the final addition is a doubling), valid: u2 = k/(2d), s = x/u2, e = (k/2)·s.
      const u2 = mod(big(kk) * inv(2n) * inv(big(d)))
      const s2 = mod(x * inv(u2))
      expect(verdict(lib, k.point, be(mod(big(kk) * inv(2n) * s2)), rs(x, s2))).toBe(true)
      // u1·G = −u2·Q: the sum is the point at infinity, never valid.
      const rr = mod(big(randomBytes(32))) || 1n
      expect(verdict(lib, k.point, be(mod(-rr * big(d))), rs(rr, 7n))).toBe(false)
      verdict(lib, k.point, be(mod(rr * big(d))), rs(rr, 7n))
      valid++
    }
    expect(valid).toBeGreaterThan(100)
  })

  it('gives the same verdicts with Q = G (the generator\'s table and the key\'s are the same points)', () => {
    const one = be(1n)
    const g = lib.keyFromScalar(one)
    if (g === undefined) throw new Error('no generator')
    for (let i = 0; i < 20; i++) {
      const digest = randomBytes(32)
      expect(verdict(lib, g.point, digest, lib.sign(g.handle, digest))).toBe(true)
      const r = mod(big(randomBytes(32))) || 1n
      verdict(lib, g.point, be(r), rs(r, 5n)) // u1 = u2: a doubling
      expect(verdict(lib, g.point, be(mod(-r)), rs(r, 5n))).toBe(false) // u1 = −u2: infinity
    }
  })

  it('keeps verifyV2\'s verdicts when a key verified often gets its table', () => {
    const key = generateSigningKey()
    const other = generateSigningKey()
    for (let i = 0; i < 100; i++) {
      const msg = `block ${i}`
      const der = signV2(key, msg)
      expect(verifyV2(key.publicKey, msg, der)).toBe(true)
      expect(verifyV2(key.publicKey, `${msg}!`, der)).toBe(false)
      expect(verifyV2(other.publicKey, msg, der)).toBe(false)
    }
  })
})
