// The native addon's per-key P-256 tables (src/crypto/native/p256-table.c) against OpenSSL's own
// ECDSA_do_verify (mode 2) and @noble/curves: the same verdict on valid, tampered and random
// signatures, r and s at and past the edges, digests at and above n, and the additions a table
// verification must treat apart (u1·G = u2·Q, a doubling; u1·G = −u2·Q, the point at infinity;
// u1 = 0), s at the edges of the binary inversion of s mod n, and x(R) compared with r without
// inverting Z (x(R) ≥ n, and r + n ≥ p). verifyV2 itself goes through a key's table after 64
// uses: its verdicts must stay node:crypto's.
import { afterEach, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { p256 } from '@noble/curves/nist.js'
import { generateSigningKey, signV2, verifyV2 } from '../../../src/crypto/index.js'
import { loadNativeOpenssl, resetNativeOpenssl, type NativeKeyHandle, type NativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'
import { big, be, G, inv, mod, N, P, rs } from '../../helpers/p256-math.js'

// One key object (so one table) per point: mode 3 builds a table past the process's limit of 32
// live tables (mode 1 then answers with ECDSA_do_verify), and each lives until its key is collected.
const keys = new Map<string, NativeKeyHandle>()

/** Table (mode 3) and OpenSSL (mode 2) verdicts, which must agree; and noble's for r, s in range. */
function verdict (lib: NativeOpenssl, point: Buffer, digest: Buffer, sig: Buffer): boolean {
  const key = keys.get(point.toString('hex')) ?? lib.publicKey(point)
  if (key === undefined) throw new Error('not a key')
  keys.set(point.toString('hex'), key)
  const byTable = lib.verify(key, digest, sig, 3)
  const byOpenssl = lib.verify(key, digest, sig, 2)
  expect({ digest: digest.toString('hex'), sig: sig.toString('hex'), byTable }).toEqual({ digest: digest.toString('hex'), sig: sig.toString('hex'), byTable: byOpenssl })
  const r = big(sig.subarray(0, 32)), s = big(sig.subarray(32))
  if (r > 0n && r < N && s > 0n && s < N) expect(p256.verify(sig, digest, point, { prehash: false, lowS: false, format: 'compact' })).toBe(byOpenssl)
  return byOpenssl
}

afterEach(() => { resetNativeOpenssl(); keys.clear() })

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

  it('inverts s at the edges of its binary inversion: valid signatures with s chosen', () => {
    // Powers of 2 below n about the limbs' edges (factors of 2 alone: k = the power), s = 1 (k = 0), n − 1,
    // (n + 1) / 2, values with 64 or more low zero bits (a limb of zeros), and s whose inversion
    // ends with k = 256 and 257 (the two Montgomery corrections), among random ones.
    const ss = [1n, 2n, 3n, N - 1n, N - 2n, (N + 1n) / 2n, 0x248e4abe71b2a17n, 0x11e103df5bd393n, 2n ** 255n + 1n, 3n * 2n ** 128n, 2n ** 192n + 2n ** 64n]
    for (const j of [0, 1, 5, 31, 32, 62, 63, 64, 65, 100, 127, 128, 129, 150, 191, 192, 193, 223, 224, 254, 255]) ss.push(2n ** BigInt(j), mod(N - 2n ** BigInt(j)))
    for (let i = 0; i < 40; i++) ss.push(mod(big(randomBytes(32)) >> BigInt(i * 6)) || 1n)
    const d = mod(big(randomBytes(32))) || 1n
    const k = lib.keyFromScalar(be(d))
    if (k === undefined) throw new Error('no key')
    for (const s of ss) {
      const nonce = mod(big(randomBytes(32))) || 1n
      const r = mod(G.multiply(nonce).x)
      const e = mod(s * nonce - r * d) // s = (e + r·d) / nonce
      expect(verdict(lib, k.point, be(e), rs(r, s))).toBe(true)
      expect(verdict(lib, k.point, be(mod(e + 1n)), rs(r, s))).toBe(false)
    }
  })

  it('compares x(R) with r and r + n: x(R) ≥ n valid, r + n ≥ p never taken', () => {
    // A key Q for which (r, s) over e verifies with R = u1·G + u2·Q a point chosen: Q = (R − u1·G)/u2.
    const keyFor = (R: typeof G, r: bigint, s: bigint, e: bigint): Buffer => {
      const u1 = mod(e * inv(s)), u2 = mod(r * inv(s))
      return Buffer.from(R.subtract(G.multiply(u1)).multiply(inv(u2)).toBytes(false))
    }
    const onCurve = (x: bigint): typeof G | undefined => {
      try { return p256.Point.fromBytes(Buffer.concat([Buffer.from([2]), be(x)])) } catch { return undefined }
    }
    let high = 0
    for (let x = N; x < N + 40n && high < 8; x++) {
      const R = onCurve(x)
      if (R === undefined) continue
      high++
      const s = mod(big(randomBytes(32))) || 1n, e = mod(big(randomBytes(32))) || 1n
      // x(R) mod n = x − n: valid only through r + n.
      expect(verdict(lib, keyFor(R, x - N, s, e), be(e), rs(x - N, s))).toBe(true)
    }
    expect(high).toBe(8)
    for (let i = 0; i < 8; i++) {
      // x(R) + p − n is below n, and x(R) ≡ r + n (mod p): invalid (x(R) mod n = x(R) ≠ r).
      const R = G.multiply(mod(big(randomBytes(32))) || 1n)
      const r = R.x + P - N
      if (r >= N) continue
      const s = mod(big(randomBytes(32))) || 1n, e = mod(big(randomBytes(32))) || 1n
      expect(verdict(lib, keyFor(R, r, s, e), be(e), rs(r, s))).toBe(false)
      expect(verdict(lib, keyFor(R, R.x, s, e), be(e), rs(R.x, s))).toBe(true)
    }
    // x(R) = 0 and r = p − n: r + n = p ≡ 0 = x(R) (mod p), but x(R) mod n = 0 ≠ r.
    const zero = onCurve(0n)
    if (zero === undefined) throw new Error('x = 0 is on P-256')
    const s = 5n, e = 11n
    expect(verdict(lib, keyFor(zero, P - N, s, e), be(e), rs(P - N, s))).toBe(false)
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
