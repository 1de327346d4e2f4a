// P-256 arithmetic for the native table tests (test/unit/crypto/p256-table*.test.ts): the group
// order and field prime, 32-byte big-endian values, and inverses mod n, in BigInt.
import { p256 } from '@noble/curves/nist.js'

export const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n
export const P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n
export const G = p256.Point.BASE
export const big = (b: Uint8Array): bigint => BigInt('0x' + (Buffer.from(b).toString('hex') || '0'))
export const be = (v: bigint): Buffer => Buffer.from(v.toString(16).padStart(64, '0'), 'hex')
export const mod = (a: bigint): bigint => ((a % N) + N) % N
export function inv (a: bigint): bigint {
  let [o, r, s, t] = [mod(a), N, 1n, 0n]
  while (r !== 0n) { const q = o / r; [o, r, s, t] = [r, o - q * r, t, s - q * t] }
  return mod(s)
}
/** r ‖ s, 32 bytes each. */
export const rs = (r: bigint, s: bigint): Buffer => Buffer.concat([be(r), be(s)])
