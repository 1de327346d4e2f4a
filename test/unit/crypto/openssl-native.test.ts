// The native P-256 ECDSA and SHA-256 (src/crypto/native/openssl.c through openssl-native.ts)
// against node:crypto, the path it replaces and the fallback when it is not built or
// PETAL_NATIVE_SHA256=0: the same keys and ids, the same digests, signatures of either path that
// verify under both and under @noble/curves (DER, low S), the same verdicts on bad keys and
// signatures, and the fallback when the addon is missing or foreign.
import { afterEach, describe, expect, it } from 'vitest'
import { createHash, generateKeyPairSync, randomBytes, verify as nodeVerify } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { p256 } from '@noble/curves/nist.js'
import { importPrivateKey, isStrictLowS, leafHash, nodeHash, privateKeyToPkcs8, sha256, sha256File, sha256FileSync, sha256Hex, signV2, verifyV2, type SigningKey } from '../../../src/crypto/index.js'
import { prefixedLeafHash } from '../../../src/crypto/merkle.js'
import { importP256Pkcs8, privateScalar } from '../../../src/crypto/keys.js'
import { knownAnswers, loadNativeOpenssl, nativeOpensslPath, opensslPath, resetNativeOpenssl, type NativeOpenssl } from '../../../src/crypto/openssl-native.js'
import { nativeSha256Path } from '../../../src/crypto/sha256-native.js'
import { CryptoError } from '../../../src/crypto/errors.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'
import { tmpDir } from '../../helpers/tmp.js'

const saved = process.env.PETAL_NATIVE_SHA256
afterEach(() => {
  if (saved === undefined) delete process.env.PETAL_NATIVE_SHA256
  else process.env.PETAL_NATIVE_SHA256 = saved
  resetNativeOpenssl()
})

/** Run `f` on the native path (it must be the one taken) or on node:crypto's. */
function on<T> (path: 'native' | 'node:crypto', f: () => T): T {
  if (path === 'native') delete process.env.PETAL_NATIVE_SHA256
  else process.env.PETAL_NATIVE_SHA256 = '0'
  resetNativeOpenssl()
  expect(opensslPath().path).toBe(path)
  try {
    return f()
  } finally {
    resetNativeOpenssl()
  }
}

function pkcs8 (): Buffer {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1', privateKeyEncoding: { type: 'pkcs8', format: 'der' }, publicKeyEncoding: { type: 'spki', format: 'der' } }).privateKey
}

/** Verified by node:crypto directly and by @noble/curves (prehashed SHA-256, low S required). */
function verifiesElsewhere (key: SigningKey, msg: string, der: Uint8Array): boolean {
  const spki = Buffer.from(key.publicKey.spki)
  const byNode = nodeVerify('sha256', Buffer.from(msg), { key: spki, format: 'der', type: 'spki' }, der)
  const byNoble = p256.verify(der, new Uint8Array(Buffer.from(msg)), key.publicKey.spki.subarray(26), { format: 'der', lowS: true })
  return byNode && byNoble
}

describe.skipIf(!nativeOpensslBuilt())('the native OpenSSL addon', () => {
  it('is what this thread uses unless PETAL_NATIVE_SHA256=0', () => {
    // Set and unset here: another test file in this worker may have left the variable set.
    expect(on('native', () => opensslPath().why)).toBe('OpenSSL via dist/native/petal-openssl.node')
    expect(on('node:crypto', () => opensslPath().why)).toBe('PETAL_NATIVE_SHA256=0')
  })

  it('imports 40 keys as node:crypto does; each path\'s low-S DER signatures verify under the other, node:crypto and @noble/curves', () => {
    for (let i = 0; i < 40; i++) {
      const der = pkcs8()
      const n = on('native', () => importPrivateKey(der))
      const c = on('node:crypto', () => importPrivateKey(der))
      expect(n.native).toBeDefined()
      expect(c.native).toBeUndefined()
      expect(n.publicKey).toEqual(c.publicKey)
      expect(n.id).toBe(c.id)
      for (let j = 0; j < 3; j++) {
        const msg = `petal/v2/seal\n${i}\n${j}\n${randomBytes(j * 40).toString('hex')}`
        const sn = on('native', () => signV2(n, msg))
        const sc = on('node:crypto', () => signV2(c, msg))
        for (const s of [sn, sc]) {
          expect(isStrictLowS(s)).toBe(true)
          expect(verifiesElsewhere(n, msg, s)).toBe(true)
          expect(on('native', () => verifyV2(n.publicKey, msg, s))).toBe(true)
          expect(on('node:crypto', () => verifyV2(n.publicKey, msg, s))).toBe(true)
          // A changed message or signature: both paths say no.
          const bad = Uint8Array.from(s)
          bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1
          for (const path of ['native', 'node:crypto'] as const) {
            expect(on(path, () => verifyV2(n.publicKey, msg + 'x', s))).toBe(false)
            expect(on(path, () => verifyV2(n.publicKey, msg, bad))).toBe(false)
          }
        }
      }
      // The key's other forms are node:crypto's, made from the native key's scalar on demand.
      expect(Buffer.from(on('native', () => privateKeyToPkcs8(n)))).toEqual(der)
      expect(on('native', () => privateScalar(n))).toEqual(on('node:crypto', () => privateScalar(c)))
      expect(n.keyObject.export({ format: 'jwk' })).toEqual(c.keyObject.export({ format: 'jwk' }))
    }
  })

  it('a native key signs through node:crypto when the switch is off after it was loaded', () => {
    const n = on('native', () => importPrivateKey(pkcs8()))
    const s = on('node:crypto', () => signV2(n, 'm'))
    expect(verifiesElsewhere(n, 'm', s)).toBe(true)
  })

  it('gives node:crypto\'s digests for every length up to 300 bytes, several parts and files', async () => {
    const dir = tmpDir()
    for (let len = 0; len <= 300; len++) {
      const b = randomBytes(len)
      const want = createHash('sha256').update(b).digest()
      const prefixed = Buffer.concat([Buffer.of(0), b])
      for (const path of ['native', 'node:crypto'] as const) {
        on(path, () => {
          expect(Buffer.from(sha256(b))).toEqual(want)
          expect(sha256Hex(b)).toBe(want.toString('hex'))
          expect(sha256Hex(b.subarray(0, len >> 1), b.subarray(len >> 1))).toBe(want.toString('hex'))
          expect(Buffer.from(leafHash(b))).toEqual(Buffer.from(prefixedLeafHash(prefixed)))
          expect(Buffer.from(prefixedLeafHash(prefixed))).toEqual(createHash('sha256').update(prefixed).digest())
          if (len === 64) expect(Buffer.from(nodeHash(b.subarray(0, 32), b.subarray(32)))).toEqual(createHash('sha256').update(Buffer.concat([Buffer.of(1), b])).digest())
        })
      }
      expect(on('native', () => sha256('ü', b))).toEqual(on('node:crypto', () => sha256('ü', b)))
    }
    // Files across the 1 MiB read size.
    for (const size of [0, 1, (1 << 20) - 1, (1 << 20) + 1]) {
      const f = join(dir, `f${size}`)
      const b = randomBytes(size)
      writeFileSync(f, b)
      const want = createHash('sha256').update(b).digest('hex')
      for (const path of ['native', 'node:crypto'] as const) {
        expect(on(path, () => sha256FileSync(f))).toBe(want)
        process.env.PETAL_NATIVE_SHA256 = path === 'native' ? '1' : '0'
        resetNativeOpenssl()
        expect(await sha256File(f)).toBe(want)
      }
    }
  })

  it('refuses the same bad keys with the same codes on both paths', () => {
    const good = pkcs8()
    const n = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex')
    const variants: Record<string, Buffer> = {}
    for (const [name, d] of [['zero', Buffer.alloc(32)], ['n', n], ['above n', Buffer.alloc(32, 0xff)]] as const) {
      const b = Buffer.from(good)
      d.copy(b, 36)
      variants[name] = b
    }
    const other = pkcs8()
    const mixed = Buffer.from(good)
    other.copy(mixed, 73, 73)
    variants['another key\'s point'] = mixed
    for (const [name, der] of Object.entries(variants)) {
      // The fast path leaves every one to OpenSSL's decoder, whose verdict is the answer on both paths.
      expect(on('native', () => importP256Pkcs8(der)), name).toBeUndefined()
      const verdicts = (['native', 'node:crypto'] as const).map(path => on(path, () => {
        try {
          importPrivateKey(der)
          return 'accepted'
        } catch (err) {
          return err instanceof CryptoError ? err.code : String(err)
        }
      }))
      expect(verdicts[0], name).toBe(verdicts[1])
      expect(verdicts[0], name).toBe('BAD_PRIVATE_KEY')
    }
  })

  it('a public key whose point is off the curve gets node:crypto\'s answer on both paths', () => {
    const key = on('native', () => importPrivateKey(pkcs8()))
    const spki = Uint8Array.from(key.publicKey.spki)
    spki[90] = (spki[90] ?? 0) ^ 1
    const pub = { spki, id: key.id, hex: Buffer.from(spki).toString('hex') }
    const sig = on('native', () => signV2(key, 'm'))
    const answer = (path: 'native' | 'node:crypto'): string => on(path, () => {
      try {
        return String(verifyV2(pub, 'm', sig))
      } catch (err) {
        return err instanceof Error ? err.constructor.name : String(err)
      }
    })
    expect(answer('native')).toBe(answer('node:crypto'))
  })

  it('the addon checks its arguments: wrong lengths, ranges and handles throw, never read past a buffer', () => {
    const lib = loadNativeOpenssl().lib
    if (lib === undefined) throw new Error('not loaded')
    const k = lib.keyFromScalar(Buffer.alloc(32, 1))
    if (k === undefined) throw new Error('no key')
    expect(() => lib.keyFromScalar(Buffer.alloc(31))).toThrow(RangeError)
    expect(() => lib.sign(k.handle, Buffer.alloc(33))).toThrow(RangeError)
    expect(() => lib.sign({} as typeof k.handle, Buffer.alloc(32))).toThrow(TypeError)
    expect(() => lib.sha256Into(Buffer.alloc(4), 2, 5, Buffer.alloc(32))).toThrow(RangeError)
    expect(() => lib.sha256Into(Buffer.alloc(4), 3, 2, Buffer.alloc(32))).toThrow(RangeError)
    expect(() => lib.sha256Into(Buffer.alloc(4), 0, 4, Buffer.alloc(31))).toThrow(RangeError)
    expect(() => lib.verify(k.handle, Buffer.alloc(32), Buffer.alloc(63))).toThrow(RangeError)
    // r = s = 0 is out of range: not valid, not an error.
    expect(lib.verify(k.handle, Buffer.alloc(32), Buffer.alloc(64))).toBe(false)
    const pub = lib.publicKey(k.point)
    if (pub === undefined) throw new Error('no public key')
    expect(() => lib.sign(pub, Buffer.alloc(32))).toThrow()
  })

  it('is refused at load when any of its hashes is wrong, merkleRoot\'s among them', () => {
    const lib = loadNativeOpenssl().lib
    if (lib === undefined) throw new Error('not loaded')
    expect(knownAnswers(lib)).toBe(true)
    // A build whose root of three leaves is wrong (the odd last leaf hashed with the pair): every
    // small table's rows root would be, and each block built or checked with it refused or wrong.
    const wrongRoot: NativeOpenssl = { ...lib, merkleRoot: (buf, ends, out) => { lib.merkleRoot(buf, ends.subarray(0, 2), out) } }
    expect(knownAnswers(wrongRoot)).toBe(false)
    const wrongDigest: NativeOpenssl = { ...lib, sha256Into: (buf, from, to, out) => { lib.sha256Into(buf, from, to - 1, out) } }
    expect(knownAnswers(wrongDigest)).toBe(false)
  })

  it('a handle of the other kind is refused, not read as one (a hasher given as a key crashed the process)', () => {
    // In a child: before the fix the first call below was a segmentation fault, which would take
    // this test worker down with it.
    const script = `const m = { exports: {} }
      process.dlopen(m, ${JSON.stringify(nativeOpensslPath())})
      const lib = m.exports
      const h = lib.hasherNew(), k = lib.keyFromScalar(Buffer.alloc(32, 1)), pub = lib.publicKey(k.point)
      const calls = [() => lib.sign(h, Buffer.alloc(32)), () => lib.verify(h, Buffer.alloc(32), Buffer.alloc(64, 1)),
        () => lib.scalar(h), () => lib.hasherUpdate(k.handle, Buffer.alloc(200), 0, 200), () => lib.hasherDigest(pub),
        () => lib.hasherUpdate(pub, Buffer.alloc(1), 0, 1), () => lib.sign(k, Buffer.alloc(32))]
      const out = calls.map(f => { try { f(); return 'returned' } catch (e) { return e.constructor.name + ': ' + e.message } })
      // Each still works with its own kind.
      lib.hasherUpdate(h, Buffer.from('abc'), 0, 3)
      out.push(lib.hasherDigest(h).toString('hex').slice(0, 8), String(lib.verify(pub, Buffer.alloc(32), lib.sign(k.handle, Buffer.alloc(32)))))
      console.log(JSON.stringify(out))`
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' })
    expect(JSON.parse(r.stdout)).toEqual([
      'TypeError: expected a key handle', 'TypeError: expected a key handle', 'TypeError: expected a key handle',
      'TypeError: expected a hasher', 'TypeError: expected a hasher', 'TypeError: expected a hasher',
      'TypeError: expected a key handle', 'ba7816bf', 'true'
    ])
  })
})

describe('without the native OpenSSL addon', () => {
  it('a missing or foreign file is not used, and says why', () => {
    expect(loadNativeOpenssl(join(tmpDir(), 'absent.node'))).toEqual({ lib: undefined, why: 'not built (dist/native/build.json says why)' })
    const junk = join(tmpDir(), 'junk.node')
    writeFileSync(junk, 'not a shared object')
    expect(loadNativeOpenssl(junk).why).toMatch(/^not loadable: /)
    if (nativeOpensslBuilt()) expect(loadNativeOpenssl(nativeSha256Path())).toEqual({ lib: undefined, why: 'exports missing' })
    expect(nativeOpensslPath().endsWith(join('dist', 'native', 'petal-openssl.node'))).toBe(true)
  })

  it('PETAL_NATIVE_SHA256=0: keys carry no native handle and sign through node:crypto', () => {
    const key = on('node:crypto', () => importPrivateKey(pkcs8()))
    expect(key.native).toBeUndefined()
    const s = on('node:crypto', () => signV2(key, 'm'))
    expect(verifiesElsewhere(key, 'm', s)).toBe(true)
  })
})
